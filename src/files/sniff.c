/* Content sniffing (files.h): the magic numbers of each format's own
 * specification, checked in the order of the WHATWG MIME Sniffing
 * standard's "rules for identifying an unknown MIME type" (binary
 * signatures first, text last). A file's name and its declared
 * Content-Type are never consulted. */
#include "files/files.h"

#include "core/buf.h"
#include "core/ms.h"
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>
#include <zip.h>

static const struct {
    const char *name, *mime;
    const char *refusal;
} types[MS_FILE_TYPES] = {
    [MS_FILE_UNKNOWN] = {"unknown", "application/octet-stream",
                         "this kind of file is not supported: attach a PDF, a Word document "
                         "(.docx), plain text, Markdown, or a PNG, JPEG or GIF image"},
    [MS_FILE_PDF] = {"pdf", "application/pdf", NULL},
    [MS_FILE_TEXT] = {"txt", "text/plain; charset=utf-8", NULL},
    [MS_FILE_MARKDOWN] = {"md", "text/markdown; charset=utf-8", NULL},
    [MS_FILE_PNG] = {"png", "image/png", NULL},
    [MS_FILE_JPEG] = {"jpeg", "image/jpeg", NULL},
    [MS_FILE_GIF] = {"gif", "image/gif", NULL},
    [MS_FILE_DOCX] = {"docx",
                      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                      NULL},
    [MS_FILE_ZIP] = {"zip", "application/zip",
                     "this ZIP archive is not a Word document (.docx): other archives are not "
                     "supported"},
    [MS_FILE_DOC] = {"doc", "application/msword",
                     "legacy Word documents (.doc, OLE2 compound files) are not supported: save "
                     "it as .docx or PDF and attach that"},
};

const char *ms_file_type_name(ms_file_type_t t) {
    return (unsigned)t < MS_FILE_TYPES ? types[t].name : "unknown";
}

const char *ms_file_type_mime(ms_file_type_t t) {
    return (unsigned)t < MS_FILE_TYPES ? types[t].mime : "application/octet-stream";
}

ms_file_type_t ms_file_type_parse(const char *name) {
    for (int t = 0; name && t < MS_FILE_TYPES; t++)
        if (!strcmp(types[t].name, name))
            return (ms_file_type_t)t;
    return MS_FILE_UNKNOWN;
}

int ms_file_type_accepted(ms_file_type_t t) {
    return (unsigned)t < MS_FILE_TYPES && types[t].refusal == NULL;
}

const char *ms_file_type_refusal(ms_file_type_t t) {
    return (unsigned)t < MS_FILE_TYPES ? types[t].refusal : types[MS_FILE_UNKNOWN].refusal;
}

static int starts(const unsigned char *p, size_t n, const char *magic, size_t mlen) {
    return n >= mlen && memcmp(p, magic, mlen) == 0;
}

/* Text: valid UTF-8 up to the sample's end (a sequence cut there is
 * allowed when the sample is not the whole file), no NUL, and control
 * characters other than TAB, LF, CR and FF in at most 1 in 100 bytes. */
static int is_text(const unsigned char *p, size_t n, int whole) {
    if (n == 0)
        return 0;
    ms_utf8_state_t u = {0};
    if (ms_utf8_feed(&u, (const char *)p, n) != 0 || (whole && !ms_utf8_complete(&u)))
        return 0;
    size_t ctl = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0)
            return 0;
        ctl += p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' && p[i] != '\f';
    }
    return ctl * 100 <= n;
}

/* Markdown: at least one line that only Markdown would write (an ATX
 * heading "# ", a code fence, a link "[..](..)") or two list items or
 * emphasis runs (CommonMark 0.30 sections 4.2, 4.5, 5.2, 6.3). */
static int is_markdown(const unsigned char *p, size_t n) {
    int lists = 0, strong = 0;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && p[e] != '\n')
            e++;
        const char *l = (const char *)p + i;
        size_t len = e - i;
        size_t h = 0;
        while (h < len && h < 6 && l[h] == '#')
            h++;
        if (h > 0 && h < len && l[h] == ' ')
            return 1;
        if (len >= 3 && (!memcmp(l, "```", 3) || !memcmp(l, "~~~", 3)))
            return 1;
        if (len >= 2 && (l[0] == '-' || l[0] == '*' || l[0] == '+') && l[1] == ' ')
            lists++;
        for (size_t k = 0; k + 1 < len; k++) {
            if (l[k] == ']' && l[k + 1] == '(' && memchr(l, '[', k))
                return 1;
            if (l[k] == '*' && l[k + 1] == '*')
                strong++;
        }
        i = e + 1;
    }
    return lists >= 2 || strong >= 2;
}

ms_file_type_t ms_files_sniff(const unsigned char *p, size_t n, int whole) {
    if (!p || n == 0)
        return MS_FILE_UNKNOWN;
    if (starts(p, n, "%PDF-", 5))
        return MS_FILE_PDF;
    if (starts(p, n, "\x89PNG\r\n\x1a\n", 8))
        return MS_FILE_PNG;
    if (starts(p, n, "\xff\xd8\xff", 3))
        return MS_FILE_JPEG;
    if (starts(p, n, "GIF87a", 6) || starts(p, n, "GIF89a", 6))
        return MS_FILE_GIF;
    if (starts(p, n, "PK\x03\x04", 4))
        return MS_FILE_ZIP;
    if (starts(p, n, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8))
        return MS_FILE_DOC;
    const unsigned char *t = p;
    size_t tn = n;
    if (starts(p, n, "\xef\xbb\xbf", 3)) {
        t += 3;
        tn -= 3;
    }
    if (is_text(t, tn, whole))
        return is_markdown(t, tn) ? MS_FILE_MARKDOWN : MS_FILE_TEXT;
    return MS_FILE_UNKNOWN;
}

/* Reads at most cap bytes of the entry into a heap string; NULL when the
 * entry is absent or unreadable. */
static char *zip_small_entry(zip_t *z, const char *name, size_t cap) {
    zip_file_t *f = zip_fopen(z, name, 0);
    if (!f)
        return NULL;
    char *buf = ms_xmalloc(cap + 1);
    zip_int64_t got = 0, r;
    while ((size_t)got < cap && (r = zip_fread(f, buf + got, cap - (size_t)got)) > 0)
        got += r;
    zip_fclose(f);
    buf[got] = '\0';
    return buf;
}

int ms_files_docx_probe(const char *path) {
    int err = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z)
        return err == ZIP_ER_OPEN || err == ZIP_ER_READ || err == ZIP_ER_NOENT ? MS_EIO : 0;
    int ok = zip_name_locate(z, "word/document.xml", 0) >= 0;
    if (ok) {
        /* The content types part is small; 64 KiB is plenty for any real one. */
        char *ct = zip_small_entry(z, "[Content_Types].xml", 65536);
        ok = ct && strstr(ct, "wordprocessingml.document.main+xml") != NULL;
        free(ct);
    }
    zip_discard(z);
    return ok;
}

char *ms_files_safe_name(const char *name) {
    const char *base = name ? name : "";
    for (const char *s = base; *s; s++)
        if (*s == '/' || *s == '\\')
            base = s + 1;
    ms_buf_t b;
    ms_buf_init(&b);
    size_t n = strlen(base);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)base[i];
        if (c < 0x80) {
            if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\')
                ms_buf_putc(&b, (char)c);
            i++;
            continue;
        }
        /* The longest valid sequence here (2..4 bytes), else U+FFFD. */
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (len > 1 && i + len <= n && ms_utf8_valid(base + i, len)) {
            ms_buf_append(&b, base + i, len);
            i += len;
        } else {
            ms_buf_puts(&b, "\xef\xbf\xbd");
            i++;
        }
    }
    /* Leading dots and spaces would make a hidden or odd-looking name. */
    size_t lead = 0;
    while (lead < b.len && (b.data[lead] == '.' || b.data[lead] == ' '))
        lead++;
    char *out;
    if (lead == b.len) {
        out = ms_xstrdup("attachment");
    } else {
        size_t len = b.len - lead;
        if (len > 255)
            len = ms_utf8_floor(b.data + lead, b.len - lead, 255);
        out = ms_xstrndup(b.data + lead, len);
    }
    ms_buf_free(&b);
    return out;
}
