/* Text extraction from attachments, with the limits that keep a hostile
 * file from costing unbounded memory or time. One call extracts one file
 * on the calling thread (a pool thread: chat/work.h MS_WORK_FILES); every
 * library used is Debian's:
 *   - PDF: poppler-glib (text per page, page count, title, author);
 *   - DOCX: libzip + libxml2's streaming reader over word/document.xml;
 *   - PNG, JPEG, GIF: tesseract OCR (English) on a leptonica image, whose
 *     size is read from the header before anything is decoded;
 *   - text and Markdown: as they are (Markdown headings start sections).
 * A file that breaks a limit or is malformed gets a clear error (code and
 * message), never a crash: see ms_extract_result_t.code. */
#ifndef MS_FILES_EXTRACT_H
#define MS_FILES_EXTRACT_H

#include "files/files.h"

#include <stddef.h>
#include <stdint.h>

/** Limits and progress reporting of one extraction. */
typedef struct {
    int64_t max_bytes;      /**< decompressed bytes (DOCX's document.xml; an image's pixels x 4) */
    int64_t max_pages;      /**< pages of a PDF (refused above, not cut) */
    int64_t max_pixels;     /**< width x height of an image (refused above) */
    int64_t timeout_ms;     /**< wall time for the whole file */
    int64_t max_text_bytes; /**< text kept; beyond it the text is cut (truncated = 1) */
    /** Called now and then with the share done, 0..100 (may be NULL). */
    void (*progress)(void *ctx, int percent);
    void *ctx;
} ms_extract_limits_t;

/** A run of text with where it is in the document. */
typedef struct {
    int page;      /**< 1-based page (PDF pages; DOCX page breaks), 0 when unknown */
    char *heading; /**< the section heading it falls under, or NULL */
    char *text;    /**< UTF-8 */
} ms_extract_section_t;

/** What an extraction found. Strings are owned by the result
 * (ms_extract_result_free). */
typedef struct {
    ms_extract_section_t *sections;
    size_t nsections, cap;
    int pages;     /**< PDF: page count; DOCX: pages seen through breaks (0 if none) */
    char *title;   /**< document title (PDF info, DOCX core properties), or NULL */
    char *author;  /**< document author, or NULL */
    int width;     /**< image width in pixels (images only) */
    int height;    /**< image height in pixels (images only) */
    int64_t chars; /**< bytes of text kept */
    int truncated; /**< the text was cut at max_text_bytes */
    /** On failure: a stable code for the API ("malformed_file",
     * "decompressed_too_large", "too_many_pages", "image_too_large",
     * "timeout", "unsupported_type", "extract_failed") and a sentence. */
    char code[32];
    char message[256];
} ms_extract_result_t;

/** Extracts the file at path, of a type ms_files_sniff decided (DOCX once
 * ms_files_docx_probe said so). 0, or a negative MS_E* code with out->code
 * and out->message set: MS_EFORMAT (malformed), MS_ETOOBIG (a limit),
 * MS_ECANCELED (the timeout), MS_EINVAL (a type that is not extracted),
 * MS_EIO. out is zero-initialised by the call; free it either way. */
int ms_extract_file(ms_file_type_t type, const char *path, const ms_extract_limits_t *lim,
                    ms_extract_result_t *out);
/** The DOCX reader on an in-memory package (the fuzz target's entry). */
int ms_extract_docx_mem(const void *data, size_t n, const ms_extract_limits_t *lim,
                        ms_extract_result_t *out);
/** Text or Markdown from memory (sections at Markdown headings). */
int ms_extract_text_mem(const char *data, size_t n, int markdown, const ms_extract_limits_t *lim,
                        ms_extract_result_t *out);
/** Frees what the result holds (not the struct); NULL-safe, idempotent. */
void ms_extract_result_free(ms_extract_result_t *r);

/** One passage to index: a piece of a section, at most about max_bytes. */
typedef struct {
    int page;
    const char *heading; /**< borrowed from the result */
    char *text;          /**< malloc'd */
} ms_extract_passage_t;

/** Splits the result's sections into passages of at most max_bytes (at a
 * paragraph, else a sentence, else a word boundary; never inside a UTF-8
 * sequence), skipping empty ones. *out is malloc'd; free each text and the
 * array with ms_extract_passages_free. */
void ms_extract_passages(const ms_extract_result_t *r, size_t max_bytes, ms_extract_passage_t **out,
                         size_t *n);
void ms_extract_passages_free(ms_extract_passage_t *p, size_t n);

/* ---- for the format readers (extract_*.c) --------------------------------- */

/** Appends text to the result as a new section (or to the last one when
 * page and heading are the same), within max_text_bytes: returns 1 once
 * the limit is reached (truncated set), else 0. */
int ms__extract_add(ms_extract_result_t *r, const ms_extract_limits_t *lim, int page,
                    const char *heading, const char *text, size_t n);
/** Sets out->code and out->message; returns rc. */
int ms__extract_fail(ms_extract_result_t *r, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Whether the deadline (ms_mono_ms() value) has passed. */
int ms__extract_late(int64_t deadline);
/** Reports progress (clamped 0..100) when it moved. */
void ms__extract_progress(const ms_extract_limits_t *lim, int *last, int percent);

int ms__extract_pdf(const char *path, const ms_extract_limits_t *lim, ms_extract_result_t *out);
int ms__extract_docx_file(const char *path, const ms_extract_limits_t *lim,
                          ms_extract_result_t *out);
int ms__extract_image(const char *path, const ms_extract_limits_t *lim, ms_extract_result_t *out);

#endif
