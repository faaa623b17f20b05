/* Structured logging: one JSON object a line on stderr (house style 10).
 * Never pass tokens, passwords or message text to these functions. */
#ifndef MS_CORE_LOG_H
#define MS_CORE_LOG_H

typedef enum { MS_LOG_DEBUG = 0, MS_LOG_INFO, MS_LOG_WARN, MS_LOG_ERROR } ms_log_level_t;

/** Sets the minimum level written (default MS_LOG_INFO). */
void ms_log_set_level(ms_log_level_t level);
/** Parses "debug|info|warn|error"; returns 0 or MS_EINVAL. */
int ms_log_parse_level(const char *s, ms_log_level_t *out);

/** Writes {"ts":..,"level":..,"event":event, <fields>} where fields is a
 * printf format producing zero or more already-valid JSON members
 * (e.g. "\"conn\":%llu,\"status\":%d"), or NULL. Thread-safe. */
void ms_log(ms_log_level_t level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

#endif
