#include "core/ms.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const ms_error_info_t error_table[] = {
    {MS_OK, "ok", 200, "ok", 0, "ok"},
    {MS_EINVAL, "invalid_request", 400, "invalid request", 0, "invalid_message"},
    {MS_ENOENT, "not_found", 404, "no such resource", 0, "not_found"},
    {MS_EEXIST, "conflict", 409, "already exists", 0, "conflict"},
    {MS_EPERM, "forbidden", 403, "not allowed", 0, "forbidden"},
    {MS_EAUTH, "unauthorized", 401, "missing, invalid or expired credentials", 0, "unauthorized"},
    {MS_EIO, "internal_error", 500, "internal error; see the server log", 1, "internal_error"},
    {MS_ETOOBIG, "too_large", 413, "over a configured size limit", 0, "too_large"},
    {MS_EBUSY, "busy", 503, "server busy; try again", 1, "busy"},
    {MS_ECANCELED, "cancelled", 409, "cancelled", 0, "cancelled"},
    {MS_EFORMAT, "bad_format", 400, "malformed input", 0, "invalid_message"},
    {MS_EOVERLOAD, "overloaded", 503, "the server is at capacity; try again shortly", 1,
     "overloaded"},
    {MS_ERATELIMIT, "rate_limited", 429, "too many requests; slow down", 1, "rate_limited"},
};

const ms_error_info_t *ms_error_info(int err) {
    for (size_t i = 0; i < MS_COUNTOF(error_table); i++)
        if (error_table[i].err == err)
            return &error_table[i];
    return &error_table[6]; /* MS_EIO */
}

const char *ms_strerror(int err) {
    for (size_t i = 0; i < MS_COUNTOF(error_table); i++)
        if (error_table[i].err == err)
            return error_table[i].code;
    return "error";
}

static void oom(size_t n) {
    fprintf(stderr, "medstream: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ms_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *ms_xcalloc(size_t count, size_t n) {
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom(count * n);
    return p;
}

void *ms_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *ms_xstrdup(const char *s) {
    return ms_xstrndup(s, strlen(s));
}

char *ms_xstrndup(const char *s, size_t n) {
    char *p = ms_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int64_t ms_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ms_mono_ms(void) {
    return ms_mono_us() / 1000;
}

int64_t ms_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void id_format(unsigned char b[16], char out[MS_ID_LEN]) {
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 9562 variant */
    snprintf(out, MS_ID_LEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void ms_id_new(char out[MS_ID_LEN]) {
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    id_format(b, out);
}

void ms_id_new_v7(char out[MS_ID_LEN]) {
    /* (ms << 12 | counter) of the last id: a later id takes max(now << 12,
     * last + 1), so within one millisecond the counter counts up and a
     * clock step backwards never reorders ids (RFC 9562 section 6.2). */
    static _Atomic uint64_t last;
    uint64_t now = (uint64_t)ms_now_ms() << 12, prev = atomic_load(&last), next;
    do {
        next = now > prev ? now : prev + 1;
    } while (!atomic_compare_exchange_weak(&last, &prev, next));
    uint64_t ms = next >> 12;
    unsigned counter = (unsigned)(next & 0xfff);
    unsigned char b[16];
    randombytes_buf(b + 8, 8);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (counter >> 8)); /* version 7 */
    b[7] = (unsigned char)(counter & 0xff);
    id_format(b, out);
}

int ms_id_valid(const char *s) {
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        int dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

void ms_time_iso(int64_t ms, char *out, size_t outlen) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", base, (int)(ms % 1000));
}
