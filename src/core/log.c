#include "core/log.h"

#include "core/buf.h"
#include "core/ms.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static ms_log_level_t min_level = MS_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ms_log_set_level(ms_log_level_t level) {
    min_level = level;
}

int ms_log_parse_level(const char *s, ms_log_level_t *out) {
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (ms_log_level_t)i;
            return 0;
        }
    }
    return MS_EINVAL;
}

void ms_log(ms_log_level_t level, const char *event, const char *fields, ...) {
    if (level < min_level)
        return;
    char ts[32];
    ms_time_iso(ms_now_ms(), ts, sizeof ts);
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level_names[level]);
    ms_buf_json_str(&b, event, strlen(event));
    if (fields && *fields) {
        ms_buf_putc(&b, ',');
        va_list ap;
        va_start(ap, fields);
        ms_buf_vprintf(&b, fields, ap);
        va_end(ap);
    }
    ms_buf_puts(&b, "}\n");
    /* One fwrite per line keeps lines whole between threads (stdio locks the stream). */
    fwrite(b.data, 1, b.len, stderr);
    ms_buf_free(&b);
}
