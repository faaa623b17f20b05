/* PHI detection and de-identification: finds the HIPAA Safe Harbor
 * identifiers that occur in free text (45 CFR 164.514(b)(2)(i)), replaces
 * them with typed placeholders before a text leaves for a model that is not
 * local, and puts the originals back into the streamed answer.
 *
 * The method is Philter's (Norgeot et al., npj Digital Medicine 3:57, 2020):
 * patterns for identifiers with a fixed shape (checked by their checksum
 * where they have one), context words for identifiers whose shape alone
 * says nothing (an MRN, a health-plan number), name and place evidence
 * from lexicons, and an allowlist of clinical terms ("Parkinson's
 * disease", "Graves", "Wells score") that wins over the name evidence.
 * Nothing here allocates per call beyond its outputs, touches a global
 * that is not read-only after the first call, or logs text.
 *
 * Thread-safe: every function may be called from any thread; a map and a
 * restorer belong to one caller at a time. */
#ifndef MS_PHI_PHI_H
#define MS_PHI_PHI_H

#include "core/buf.h"

#include <stddef.h>

/** Identifier categories. The names (ms_phi_type_name) are ASQ-PHI's
 * (Weatherhead, Data in Brief 2026) where it has one, short forms as the
 * gateway's routing telemetry uses them; the Safe Harbor item each covers
 * is given as (A)..(R) of 45 CFR 164.514(b)(2)(i). */
typedef enum {
    MS_PHI_NAME,                           /**< (A) names, with their title ("Dr. Sarah P.") */
    MS_PHI_GEOGRAPHIC_LOCATION,            /**< (B) street address, city, ZIP code, facility */
    MS_PHI_DATE,                           /**< (C) dates more specific than a year */
    MS_PHI_AGE_OVER_89,                    /**< (C) ages over 89 */
    MS_PHI_PHONE,                          /**< (D) telephone numbers */
    MS_PHI_FAX,                            /**< (E) fax numbers */
    MS_PHI_EMAIL,                          /**< (F) electronic mail addresses */
    MS_PHI_SSN,                            /**< (G) social security numbers */
    MS_PHI_MEDICAL_RECORD_NUMBER,          /**< (H) */
    MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, /**< (I) insurance, member, Medicare ids */
    MS_PHI_ACCOUNT,                        /**< (J) account, card (Luhn), IBAN (mod 97) */
    MS_PHI_CERTIFICATE_LICENSE,            /**< (K) driver's licence, DEA, certificate */
    MS_PHI_VEHICLE_IDENTIFIER,             /**< (L) VIN (check digit), licence plate */
    MS_PHI_DEVICE_IDENTIFIER,              /**< (M) device serial numbers */
    MS_PHI_URL,                            /**< (N) web addresses */
    MS_PHI_IP,                             /**< (O) IPv4 and IPv6 addresses */
    MS_PHI_UNIQUE_IDENTIFIER,              /**< (R) any other identifying number or code */
    MS_PHI_NTYPES
} ms_phi_type_t;

/** The category's name ("NAME", "MEDICAL_RECORD_NUMBER", ...); never NULL. */
const char *ms_phi_type_name(ms_phi_type_t type);

/** The category named name (case-sensitive, as ms_phi_type_name writes it;
 * ASQ-PHI's long forms PHONE_NUMBER, FAX_NUMBER, EMAIL_ADDRESS,
 * SOCIAL_SECURITY_NUMBER, ACCOUNT_NUMBER, CERTIFICATE_LICENSE_NUMBER and
 * IP_ADDRESS are accepted too), or -1. */
int ms_phi_type_parse(const char *name);

/** A span with at least this confidence is PHI; below it the detector is
 * unsure. Unsure is a verdict of its own, treated as PHI by routing. */
#define MS_PHI_SURE 0.5

/** One identifier found in a text: bytes [start, end) of the UTF-8 input
 * (never inside a code point), its category, and how sure the detector
 * is, in (0, 1]: >= MS_PHI_SURE is PHI, below it "unsure". */
typedef struct {
    ms_phi_type_t type;
    size_t start, end;
    double confidence;
} ms_phi_span_t;

/** The message-level outcome of a detection. */
typedef enum {
    MS_PHI_NONE = 0, /**< nothing found */
    MS_PHI_UNSURE,   /**< only spans below MS_PHI_SURE: treat as PHI */
    MS_PHI_FOUND,    /**< at least one span at or above MS_PHI_SURE */
} ms_phi_verdict_t;

/** What ms_phi_detect found. Owned by the caller: ms_phi_result_free. */
typedef struct {
    ms_phi_span_t *spans; /**< sorted by start, never overlapping */
    size_t nspans;
    ms_phi_verdict_t verdict;
    /** Bit (1u << type) set for each category present in spans. */
    unsigned categories;
} ms_phi_result_t;

/** Largest input ms_phi_detect examines; bytes past it are not scanned and
 * the verdict is at least MS_PHI_UNSURE (a text too long to check is not
 * known to be free of PHI). */
#define MS_PHI_MAX_INPUT (1u << 20)

/** Finds the identifiers in text[0..len). text should be UTF-8; invalid
 * bytes are treated as letters (they cannot start or end a span inside a
 * code point that is valid). NUL bytes are allowed. Always succeeds: *out
 * is filled (zeroed first) and must be released with ms_phi_result_free.
 * Linear in len (every pattern is bounded), about a microsecond per 100
 * bytes (docs/phi.md). */
void ms_phi_detect(const char *text, size_t len, ms_phi_result_t *out);

/** Releases what ms_phi_detect filled; NULL-safe; *r is zeroed. */
void ms_phi_result_free(ms_phi_result_t *r);

/* ---- redaction ------------------------------------------------------------ */

/** A redaction map: each original value redacted through it and the typed
 * placeholder that replaced it ("[NAME_1]", "[DATE_2]" ...). One map per
 * request, so the same value gets the same placeholder in the question,
 * the history and the context, and the answer's placeholders can be put
 * back. Owned by its creator: ms_phi_map_free. Not thread-safe. */
typedef struct ms_phi_map ms_phi_map_t;

/** A new, empty map. Never NULL (allocation failure aborts). */
ms_phi_map_t *ms_phi_map_new(void);
/** NULL-safe. The originals it holds are wiped (explicit_bzero) first. */
void ms_phi_map_free(ms_phi_map_t *m);
/** Number of distinct originals in the map. */
size_t ms_phi_map_count(const ms_phi_map_t *m);
/** The i-th entry (0 <= i < count): its placeholder and original value,
 * NUL-terminated, owned by the map; the type through *type when not NULL. */
void ms_phi_map_entry(const ms_phi_map_t *m, size_t i, const char **placeholder,
                      const char **original, ms_phi_type_t *type);

/** Writes text[0..len) with every span of res replaced by its placeholder
 * into a malloc'd, NUL-terminated string (*out, length *out_len when not
 * NULL), adding each new original to m. Spans of every confidence are
 * replaced (an unsure span is treated as PHI). A placeholder never equals
 * text that occurs in the input: "[NAME_1]" typed by the user is skipped. */
void ms_phi_redact(ms_phi_map_t *m, const char *text, size_t len, const ms_phi_result_t *res,
                   char **out, size_t *out_len);

/** Detects and redacts in one call (ms_phi_detect, then ms_phi_redact);
 * the verdict through *verdict when not NULL. */
void ms_phi_redact_text(ms_phi_map_t *m, const char *text, size_t len, char **out, size_t *out_len,
                        ms_phi_verdict_t *verdict);

/** Replaces, in a text built later from the same inputs (a prompt that
 * quotes the question, the clinical context), every original already in
 * m by its placeholder, at word boundaries, longest original first.
 * *out is malloc'd and NUL-terminated. */
void ms_phi_map_apply(const ms_phi_map_t *m, const char *text, size_t len, char **out,
                      size_t *out_len);

/* ---- restoring a streamed answer ---------------------------------------- */

/** Puts originals back into text streamed in pieces that may split a
 * placeholder anywhere ("[NA" + "ME_1]"). It holds back at most
 * ms_phi_restorer_holdback() bytes: a suffix that could still become a
 * placeholder of the map. Text that is no placeholder passes through
 * unchanged, byte for byte, and in order. It borrows m, which must outlive
 * it and not change while it is used. Not thread-safe. */
typedef struct ms_phi_restorer ms_phi_restorer_t;

/** A restorer for m. Never NULL. */
ms_phi_restorer_t *ms_phi_restorer_new(const ms_phi_map_t *m);
/** NULL-safe; held-back bytes are discarded (wiped). */
void ms_phi_restorer_free(ms_phi_restorer_t *r);
/** Feeds chunk[0..len) and appends to out what can be released now (the
 * text with each complete placeholder replaced by its original). Returns
 * the number of bytes appended. */
size_t ms_phi_restorer_feed(ms_phi_restorer_t *r, const char *chunk, size_t len, ms_buf_t *out);
/** At the end of the stream: appends what is still held back, verbatim
 * (an unfinished "[NAME_" is text, not a placeholder). Returns the bytes
 * appended; the restorer is empty and reusable afterwards. */
size_t ms_phi_restorer_flush(ms_phi_restorer_t *r, ms_buf_t *out);
/** The bytes r holds back now (0 .. ms_phi_restorer_holdback(m)). */
size_t ms_phi_restorer_pending(const ms_phi_restorer_t *r);
/** The most bytes a restorer for m may hold back: its longest placeholder
 * less one. */
size_t ms_phi_restorer_holdback(const ms_phi_map_t *m);

#endif
