/* A streaming multipart/form-data parser (RFC 7578 over RFC 2046 section
 * 5.1.1): bytes go in as they arrive, split anywhere, and each part's
 * headers and content come out through callbacks without the body ever
 * being held whole. Memory is bounded: the parser keeps one part's header
 * block (at most MS_MP_MAX_HEADER_BYTES) and nothing of the content.
 *
 * Grammar (RFC 2046 section 5.1.1, the parts that matter here):
 *   body      := preamble? dash-boundary padding CRLF part
 *                (CRLF dash-boundary padding CRLF part)*
 *                CRLF dash-boundary "--" padding epilogue?
 *   dash-boundary := "--" boundary   (boundary: 1..70 characters)
 *   padding   := (SP / HTAB)*        (transport padding)
 *   part      := header-lines CRLF content
 * The content of a part ends at the first CRLF "--" boundary: the delimiter
 * belongs to the boundary, not to the content (section 5.1.1: "the CRLF
 * preceding the boundary delimiter line is conceptually attached to the
 * boundary"). */
#ifndef MS_FILES_MULTIPART_H
#define MS_FILES_MULTIPART_H

#include <stddef.h>

/** Longest boundary (RFC 2046 section 5.1.1: 1 to 70 characters). */
#define MS_MP_MAX_BOUNDARY 70
/** Largest header block of one part (refused as MS_EFORMAT above). */
#define MS_MP_MAX_HEADER_BYTES 8192
/** Most parts in one body (refused as MS_EFORMAT above). */
#define MS_MP_MAX_PARTS 32

/** One part's headers, as its part_begin callback sees them (valid only
 * during the call). */
typedef struct {
    /** Content-Disposition's name parameter ("" when absent). RFC 7578
     * section 4.2: every part has one; a part without is still delivered. */
    const char *name;
    /** The filename parameter, UTF-8 (filename* per RFC 5987/8187 when
     * given: it wins over filename), or NULL when the part is not a file. */
    const char *filename;
    /** The part's Content-Type ("" when absent); informational only:
     * medstream decides file types by their content. */
    const char *content_type;
} ms_mp_part_t;

/** The callbacks. Each returns 0 to go on or a negative MS_E* code, which
 * stops the parser: ms_multipart_feed then returns that code. */
typedef struct {
    int (*part_begin)(void *ctx, const ms_mp_part_t *part);
    /** A piece of the current part's content (never empty). */
    int (*part_data)(void *ctx, const char *p, size_t n);
    /** The current part's content is complete. */
    int (*part_end)(void *ctx);
} ms_mp_callbacks_t;

typedef struct ms_multipart ms_multipart_t;

/** The boundary parameter of a Content-Type value
 * ("multipart/form-data; boundary=..." , quoted or not, RFC 2045 section
 * 5.1) into out. 0; MS_EINVAL when the type is not multipart/form-data or
 * the boundary is missing, empty, longer than 70 characters or holds a
 * character RFC 2046's bchars does not allow. */
int ms_multipart_boundary(const char *content_type, char out[MS_MP_MAX_BOUNDARY + 1]);

/** A parser for one body with this boundary (1..70 bytes, as
 * ms_multipart_boundary returns). cbs and ctx are borrowed. */
ms_multipart_t *ms_multipart_new(const char *boundary, const ms_mp_callbacks_t *cbs, void *ctx);
/** Frees the parser; NULL-safe. */
void ms_multipart_free(ms_multipart_t *m);

/** Feeds the next n bytes. 0; MS_EFORMAT when the body is not multipart
 * (ms_multipart_error says why); a callback's error. After an error every
 * further call returns it again. Bytes after the closing delimiter (the
 * epilogue) are ignored. */
int ms_multipart_feed(ms_multipart_t *m, const char *p, size_t n);
/** The body has ended: 0 when the closing delimiter was seen, else
 * MS_EFORMAT ("truncated"). */
int ms_multipart_finish(ms_multipart_t *m);
/** Whether the closing delimiter has been seen. */
int ms_multipart_done(const ms_multipart_t *m);
/** A static description of the last MS_EFORMAT, or "". */
const char *ms_multipart_error(const ms_multipart_t *m);

#endif
