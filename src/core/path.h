/* Path patterns, the one matcher for REST routes and WebSocket endpoints.
 *
 * A pattern is a literal path in which a segment written "{name}" matches
 * exactly one non-empty path segment (no '/'): "/api/conversations/{id}"
 * matches "/api/conversations/0192…" and hands over the segment. */
#ifndef MS_CORE_PATH_H
#define MS_CORE_PATH_H

#include <stddef.h>

/** Most "{…}" segments one pattern may hold. */
#define MS_PATH_MAX_PARAMS 4
/** Longest matched segment, in bytes (longer ones do not match). */
#define MS_PATH_PARAM_MAX 160

/** The segments a match captured, in pattern order. */
typedef struct {
    size_t n;
    char value[MS_PATH_MAX_PARAMS][MS_PATH_PARAM_MAX + 1];
} ms_path_params_t;

/** Whether path (without query) matches pattern exactly. On a match,
 * *out (may be NULL) gets the captured segments; on a miss its contents are
 * unspecified. A segment longer than MS_PATH_PARAM_MAX never matches. */
int ms_path_match(const char *pattern, const char *path, ms_path_params_t *out);

#endif
