/* Exports of a conversation (issue 12; seed 002 "Export API"): Markdown
 * and PDF documents holding
 * - a metadata table (user, conversation, dates, message count, export
 *   time, citation style);
 * - the messages in order, each with its time, role and status;
 * - under each answer, its tool calls and their results (the
 *   knowledge-base search: query and what it found) and its references in
 *   the chosen style, numbered as the answer's markers [n];
 * - a bibliography of every source the conversation cites;
 * - the medical disclaimer.
 *
 * The PDF is typeset with Pango on a cairo PDF surface: real, searchable
 * text in embedded fonts (DejaVu, with fontconfig's fallback for scripts
 * it lacks), A4 pages with a running header and "Page n of N" footers,
 * text that flows across page breaks.
 *
 * Pure functions of their input (no storage, no network): any thread. */
#ifndef MS_EXPORT_EXPORT_H
#define MS_EXPORT_EXPORT_H

#include "cite/cite.h"
#include "core/buf.h"

#include <jansson.h>
#include <stdint.h>

/** What an export shows. Everything is borrowed from the caller for the
 * duration of the call. */
typedef struct {
    /** The conversation JSON (docs/protocol.md "Conversation"). */
    json_t *conversation;
    /** Its messages, oldest first (Message JSON with citations). */
    json_t *messages;
    /** Tool calls by message id (ms_store_tools_by_conversation), or NULL. */
    json_t *tools;
    const char *user_email;
    const char *disclaimer;
    ms_cite_style_t style;
    int64_t exported_at_ms; /**< the export's time, ms since the epoch */
    /** PDF only: the most pages it may have (MS_ETOOBIG beyond). */
    int64_t max_pages;
} ms_export_doc_t;

/** The conversation as Markdown (CommonMark; tables as GitHub Flavored
 * Markdown) appended to out. 0, or MS_EINVAL when messages is not an array. */
int ms_export_markdown(const ms_export_doc_t *doc, ms_buf_t *out);

/** The conversation as a PDF document: *out (malloc'd, free() it) of *len
 * bytes and *pages pages (any may be NULL but out and len). 0; MS_ETOOBIG
 * when it would have more than doc->max_pages pages; MS_EINVAL for a bad
 * document; MS_EIO when cairo fails. */
int ms_export_pdf(const ms_export_doc_t *doc, char **out, size_t *len, int *pages);

/* ---- shared by the two writers (model.c) ---------------------------------- */

/** "2026-11-21T19:33:11.123Z" as "2026-11-21 19:33:11 UTC" (out >= 32). */
void ms_export_time(const char *iso, char *out, size_t n);
/** The day of an RFC 3339 time as a citation date (year 0 when unparseable). */
ms_cite_date_t ms_export_day(const char *iso);
/** A copy of a message's citations with context.accessed set to the
 * message's day (the date the answer consulted them). */
json_t *ms_export_citations(json_t *message);
/** Every distinct source the messages cite, in order of first citation,
 * renumbered 1..N ("index"), for the conversation's bibliography. */
json_t *ms_export_sources(json_t *messages);
/** s shortened to at most max_chars characters, cut at a space, with
 * "…" when cut (a long question shown as a tool call's query), appended
 * to out. */
void ms_export_short(const char *s, size_t max_chars, ms_buf_t *out);
/** The "Result" line of a tool call: "5 passages found in 3.2 ms: Gout
 * (GHR_0000123_Sec1), ..." (or the error), appended to out. */
void ms_export_tool_summary(json_t *tool, ms_buf_t *out);

#endif
