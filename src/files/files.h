/* Attachments' files (architecture.md, files/): what a file is, decided by
 * its content (magic bytes), never by its name; the blob storage seam
 * (files/blob.h); text extraction with page and section labels
 * (files/extract.h); the streaming multipart parser (files/multipart.h).
 * Nothing here touches the database or the network. */
#ifndef MS_FILES_FILES_H
#define MS_FILES_FILES_H

#include <stddef.h>
#include <stdint.h>

/** The kinds of file medstream tells apart. The first seven are accepted;
 * the rest are refused with ms_file_type_refusal's reason. */
typedef enum {
    MS_FILE_UNKNOWN = 0,
    MS_FILE_PDF,      /**< "%PDF-" (ISO 32000-1 section 7.5.2) */
    MS_FILE_TEXT,     /**< UTF-8 text without NUL bytes */
    MS_FILE_MARKDOWN, /**< UTF-8 text with Markdown structure (CommonMark) */
    MS_FILE_PNG,      /**< 89 50 4E 47 0D 0A 1A 0A (PNG section 5.2) */
    MS_FILE_JPEG,     /**< FF D8 FF (JPEG SOI and a marker) */
    MS_FILE_GIF,      /**< "GIF87a" / "GIF89a" */
    MS_FILE_DOCX,     /**< a ZIP package holding word/document.xml (ECMA-376 part 2) */
    MS_FILE_ZIP,      /**< a ZIP archive that is not (or not yet known to be) a DOCX */
    MS_FILE_DOC,      /**< an OLE2 compound file (legacy Word .doc): refused */
    MS_FILE_TYPES
} ms_file_type_t;

/** Bytes ms_files_sniff wants before it decides (fewer when the file is
 * shorter). */
#define MS_FILES_SNIFF_BYTES 4096

/** The type of a file from its first n bytes; whole says they are the
 * whole file. ZIP archives come back as MS_FILE_ZIP: whether one is a DOCX
 * is decided on the whole file (ms_files_docx_probe). Text is UTF-8 (a BOM
 * allowed) with no NUL and few control characters; a sequence cut at the
 * end of a partial sample is allowed, and the rest of the file must be
 * checked as it arrives (the caller's streaming ms_utf8_feed). */
ms_file_type_t ms_files_sniff(const unsigned char *p, size_t n, int whole);

/** Short name used in the API: "pdf", "txt", "md", "png", "jpeg", "gif",
 * "docx", "zip", "doc", "unknown". */
const char *ms_file_type_name(ms_file_type_t t);
/** The media type served on download ("application/pdf", ...;
 * "application/octet-stream" for the refused kinds). */
const char *ms_file_type_mime(ms_file_type_t t);
/** Parses a name of ms_file_type_name; MS_FILE_UNKNOWN when unknown. */
ms_file_type_t ms_file_type_parse(const char *name);
/** Whether the type is accepted as an attachment. */
int ms_file_type_accepted(ms_file_type_t t);
/** Why a refused type is refused (a sentence for the client), or NULL when
 * it is accepted. */
const char *ms_file_type_refusal(ms_file_type_t t);

/** Whether the ZIP file at path is a Word document: a package whose
 * [Content_Types].xml names the WordprocessingML main part and that holds
 * word/document.xml (ECMA-376 part 2, section 10.1.2). 1, 0 (another ZIP,
 * or a damaged one), or a negative MS_E* code when the file cannot be read. */
int ms_files_docx_probe(const char *path);

/** A file name safe to store and to show: the last path component (RFC
 * 7578 section 4.2: a client may send a path; it must not be used), no
 * control characters, no '"' or '\\', valid UTF-8 (invalid bytes become
 * U+FFFD), at most 255 bytes cut at a character boundary, and never empty
 * ("attachment"). malloc'd. */
char *ms_files_safe_name(const char *name);

#endif
