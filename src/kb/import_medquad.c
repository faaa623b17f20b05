/* MedQuAD import (Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019,
 * 20:511; https://github.com/abachaa/MedQuAD): one XML file per document,
 *
 *   <Document id="0000123" source="GHR" url="...">
 *     <Focus>...</Focus>
 *     <FocusAnnotations><UMLS><CUIs><CUI>C0000000</CUI>...
 *     <QAPairs><QAPair pid="2"><Question qid qtype="symptoms">...</Question>
 *                              <Answer>...</Answer></QAPair>...
 *
 * A few files use older spellings of the same structure, read the same
 * way: NINDS <doc docid corpus url><doctitle-focus><umls><cui><qaPairs>
 * <pair pid><question><answer>, and CDC <DiseaseFile fid source url>.
 *
 * Every QA pair with an answer becomes a passage whose id is
 * <Source>_<docid>_Sec<pid>, the form of the TREC 2017 LiveQA medical qrels
 * (README of the MedQuAD QA test collection: "GHR_0000123_Sec2 = source GHR,
 * document 0000123, QA pair 2"). Two details, checked against the qrels:
 * the herbs subset's source attribute "MPlusHerbsSupplements" appears there
 * as "MPlusHerbsSuppls"; and CancerGov splits some documents into files
 * 0000013_2.xml, 0000013_2_1.xml, ... that all carry id "0000013_2", so a
 * file whose name extends the id ("0000013_2_1") gives the document id,
 * otherwise two different documents would overwrite each other. Pairs with
 * no answer (the A.D.A.M., Drugs and Herbs subsets ship none, for
 * copyright) are counted as skipped. */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/ms.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

/* No MedQuAD document comes near this; it bounds memory on hostile input. */
#define MQ_MAX_DOC (32u << 20)
#define MQ_MAX_PAIRS 4096
#define MQ_BATCH_US 250000

typedef struct {
    char *title; /* the question */
    char *qtype;
    char *text; /* the answer */
    char id[160];
} mq_pair_t;

static int name_is(const xmlNode *n, const char *a, const char *b) {
    if (n->type != XML_ELEMENT_NODE)
        return 0;
    return xmlStrcasecmp(n->name, (const xmlChar *)a) == 0 ||
           (b && xmlStrcasecmp(n->name, (const xmlChar *)b) == 0);
}

static const xmlNode *child(const xmlNode *n, const char *a, const char *b) {
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (name_is(c, a, b))
            return c;
    return NULL;
}

/* The element's text content, whitespace-normalised; NULL if empty. */
static char *text_of(const xmlNode *n) {
    if (!n)
        return NULL;
    xmlChar *s = xmlNodeGetContent(n);
    if (!s)
        return NULL;
    char *t = ms_kb__clean_text((const char *)s, strlen((const char *)s));
    xmlFree(s);
    if (!*t) {
        free(t);
        return NULL;
    }
    return t;
}

/* The first present of the attributes named in the '|'-separated list. */
static char *attr(const xmlNode *n, const char *names) {
    xmlChar *v = NULL;
    char name[32];
    for (const char *p = names; *p && !v;) {
        size_t len = strcspn(p, "|");
        if (len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            v = xmlGetProp(n, (const xmlChar *)name);
        }
        p += len + (p[len] == '|');
    }
    if (!v)
        return NULL;
    char *s = ms_xstrdup((const char *)v);
    xmlFree(v);
    return s;
}

/* Collects every <CUI>/<cui> under n as JSON strings, comma-separated. */
static void collect_cuis(const xmlNode *n, ms_buf_t *out, int *count) {
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!name_is(c, "CUI", NULL)) {
            collect_cuis(c, out, count);
            continue;
        }
        char *t = text_of(c);
        if (t) {
            if ((*count)++)
                ms_buf_putc(out, ',');
            ms_buf_json_str(out, t, strlen(t));
            free(t);
        }
    }
}

/* The focus and its synonyms (<Synonyms><Synonym>, from UMLS and the
 * source site) as "focus; synonym; ...", the form the focus column of the
 * index takes so that a question naming a condition by another of its
 * names still matches it. Duplicates are left out; at most ~4 KB. */
static void collect_names(const xmlNode *n, const char *focus, ms_buf_t *out) {
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!name_is(c, "Synonym", NULL)) {
            collect_names(c, focus, out);
            continue;
        }
        char *t = text_of(c);
        if (t && out->len + strlen(t) < 4096 && strcasecmp(t, focus) != 0) {
            size_t tl = strlen(t);
            int dup = 0;
            for (const char *p = out->data; p && (p = strcasestr(p, t)) != NULL; p += tl)
                dup |= (p == out->data || p[-1] == ' ') && (p[tl] == ';' || p[tl] == '\0');
            if (!dup) {
                ms_buf_puts(out, "; ");
                ms_buf_puts(out, t);
            }
        }
        free(t);
    }
}

/* The id part from the file name: "dir/0000013_2_1.xml" -> "0000013_2_1". */
static char *stem_of(const char *name) {
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t n = strlen(base);
    if (n > 4 && strcasecmp(base + n - 4, ".xml") == 0)
        n -= 4;
    return ms_xstrndup(base, n);
}

static int valid_id_part(const char *s) {
    if (!*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static void pairs_free(mq_pair_t *pairs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].title);
        free(pairs[i].qtype);
        free(pairs[i].text);
    }
    free(pairs);
}

/* Reads the QA pairs; pairs without an answer are counted as skipped and
 * their question types collected in skipped_qtypes ("a|b|..."). */
static int read_pairs(ms_kb__imp_t *imp, const xmlNode *qas, const char *prefix, const char *name,
                      mq_pair_t **out, size_t *nout, ms_buf_t *skipped_qtypes) {
    mq_pair_t *pairs = NULL;
    size_t n = 0, pos = 0;
    for (const xmlNode *p = qas ? qas->children : NULL; p; p = p->next) {
        if (!name_is(p, "QAPair", "pair"))
            continue;
        pos++;
        char *answer = text_of(child(p, "Answer", NULL));
        if (!answer) {
            if (imp->stats)
                imp->stats->skipped++;
            const xmlNode *qn = child(p, "Question", NULL);
            char *qt = qn ? attr(qn, "qtype") : NULL;
            if (qt && skipped_qtypes->len + strlen(qt) < 1024) {
                if (skipped_qtypes->len)
                    ms_buf_putc(skipped_qtypes, '|');
                ms_buf_puts(skipped_qtypes, qt);
            }
            free(qt);
            continue;
        }
        if (n == MQ_MAX_PAIRS) {
            free(answer);
            pairs_free(pairs, n);
            ms_kb__fail(name, 0, "more than %d QA pairs", MQ_MAX_PAIRS);
            return MS_EFORMAT;
        }
        pairs = ms_xrealloc(pairs, (n + 1) * sizeof *pairs);
        mq_pair_t *q = &pairs[n++];
        memset(q, 0, sizeof *q);
        q->text = answer;
        const xmlNode *qn = child(p, "Question", NULL);
        q->title = text_of(qn);
        q->qtype = qn ? attr(qn, "qtype") : NULL;
        char *pid = attr(p, "pid");
        if (pid && !valid_id_part(pid)) {
            free(pid);
            pid = NULL;
        }
        if (pid)
            snprintf(q->id, sizeof q->id, "%s_Sec%s", prefix, pid);
        else
            snprintf(q->id, sizeof q->id, "%s_Sec%zu", prefix, pos);
        free(pid);
    }
    *out = pairs;
    *nout = n;
    return 0;
}

static int import_doc(ms_kb__imp_t *imp, const xmlNode *root, const char *name) {
    char *docid = attr(root, "id|docid|fid");
    char *source = attr(root, "source|corpus");
    char *url = attr(root, "url");
    char *stem = stem_of(name);
    char *focus = text_of(child(root, "Focus", "doctitle-focus"));
    mq_pair_t *pairs = NULL;
    size_t n = 0;
    ms_buf_t cuis, prefix, names, skipped;
    ms_buf_init(&cuis);
    ms_buf_init(&prefix);
    ms_buf_init(&names);
    ms_buf_init(&skipped);
    ms_kb__passage_t *ps = NULL;
    int rc = 0;
    if (!docid || !source || !valid_id_part(docid) || !valid_id_part(source)) {
        ms_kb__fail(name, 0, "not a MedQuAD document (missing or odd id/source attributes)");
        rc = MS_EFORMAT;
        goto done;
    }
    if (strcmp(source, "MPlusHerbsSupplements") == 0) {
        free(source);
        source = ms_xstrdup("MPlusHerbsSuppls");
    }
    size_t idlen = strlen(docid);
    const char *use_id =
        (strncmp(stem, docid, idlen) == 0 && stem[idlen] == '_' && valid_id_part(stem)) ? stem
                                                                                        : docid;
    ms_buf_printf(&prefix, "%s_%s", source, use_id);
    int ncuis = 0;
    ms_buf_putc(&cuis, '[');
    collect_cuis(child(root, "FocusAnnotations", "umls"), &cuis, &ncuis);
    ms_buf_putc(&cuis, ']');
    if ((rc = read_pairs(imp, child(root, "QAPairs", "qaPairs"), prefix.data, name, &pairs, &n,
                         &skipped)))
        goto done;
    if (focus) {
        ms_buf_puts(&names, focus);
        collect_names(child(root, "FocusAnnotations", NULL), focus, &names);
    }
    if (n == 0) {
        /* A document the release lists without its text (A.D.A.M., Drugs,
         * Herbs): known by name, so that a question about it can be told
         * so instead of answered from a neighbouring topic. */
        ms_kb__doc_t gap = {.id = prefix.data,
                            .source_type = "medquad",
                            .source = source,
                            .title = focus,
                            .url = url,
                            .focus = focus};
        rc = ms_kb__gap_put(imp, &gap, names.data, skipped.data);
        goto done;
    }
    ps = ms_xcalloc(n, sizeof *ps);
    for (size_t i = 0; i < n; i++) {
        ps[i].id = pairs[i].id;
        ps[i].title = pairs[i].title;
        ps[i].focus = focus ? names.data : NULL;
        ps[i].qtype = pairs[i].qtype;
        ps[i].text = pairs[i].text;
    }
    ms_kb__doc_t doc = {
        .id = prefix.data,
        .source_type = "medquad",
        .source = source,
        .title = focus,
        .url = url,
        .focus = focus,
        .cuis_json = ncuis ? cuis.data : NULL,
    };
    rc = ms_kb__put(imp, &doc, ps, n);
done:
    free(ps);
    pairs_free(pairs, n);
    ms_buf_free(&cuis);
    ms_buf_free(&prefix);
    ms_buf_free(&names);
    ms_buf_free(&skipped);
    free(docid);
    free(source);
    free(url);
    free(stem);
    free(focus);
    return rc;
}

int ms_kb__medquad_parse(ms_kb__imp_t *imp, const char *data, size_t len, const char *name) {
    xmlInitParser();
    if (len > MQ_MAX_DOC) {
        ms_kb__fail(name, 0, "document larger than %u bytes", MQ_MAX_DOC);
        return MS_EFORMAT;
    }
    /* No network, no entity substitution (no XXE), errors reported by the
     * return value instead of printed. */
    xmlDoc *doc = xmlReadMemory(data, (int)len, name, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        const char *msg = e && e->message ? e->message : "parse error";
        int len = (int)strcspn(msg, "\n");
        ms_kb__fail(name, e ? e->line : 0, "malformed XML: %.*s", len, msg);
        return MS_EFORMAT;
    }
    const xmlNode *root = xmlDocGetRootElement(doc);
    int rc;
    if (!root || !child(root, "QAPairs", "qaPairs")) {
        ms_kb__fail(name, 0, "not a MedQuAD document (no <QAPairs> under the root element)");
        rc = MS_EFORMAT;
    } else {
        rc = import_doc(imp, root, name);
    }
    xmlFreeDoc(doc);
    return rc;
}

int ms_kb__import_medquad_file(ms_kb__imp_t *imp, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ms_kb__fail(path, 0, "%s", strerror(errno));
        return MS_EIO;
    }
    ms_buf_t b;
    ms_buf_init(&b);
    char chunk[65536];
    size_t r;
    int rc = 0;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + r > MQ_MAX_DOC) {
            ms_kb__fail(path, 0, "document larger than %u bytes", MQ_MAX_DOC);
            rc = MS_EFORMAT;
            break;
        }
        ms_buf_append(&b, chunk, r);
    }
    if (!rc && ferror(f)) {
        ms_kb__fail(path, 0, "read error");
        rc = MS_EIO;
    }
    fclose(f);
    if (!rc)
        rc = ms_kb__medquad_parse(imp, b.data ? b.data : "", b.len, path);
    ms_buf_free(&b);
    return rc;
}

/* Streams the archive (no extraction to disk): each .xml entry is read into
 * memory and parsed; other entries are ignored. A malformed entry is logged
 * and skipped. Runs inside the caller's transaction, which it commits and
 * reopens every quarter second: the archive is many documents, and holding
 * the write lock for the whole of it would stall the server's writes. */
int ms_kb__import_medquad_archive(ms_kb__imp_t *imp, const char *path) {
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    ms_buf_t b, name;
    ms_buf_init(&b);
    ms_buf_init(&name);
    int rc = 0;
    int64_t batch_start = ms_mono_us();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        ms_kb__fail(path, 0, "cannot read archive: %s", archive_error_string(a));
        ms_kb__imp_bad(imp);
        goto done;
    }
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            /* Keep what was read: those documents are whole. */
            ms_kb__fail(path, 0, "corrupt archive: %s", archive_error_string(a));
            ms_kb__imp_bad(imp);
            goto done;
        }
        const char *en = archive_entry_pathname(e);
        size_t enl = en ? strlen(en) : 0;
        if (archive_entry_filetype(e) != AE_IFREG || enl < 5 ||
            strcasecmp(en + enl - 4, ".xml") != 0)
            continue;
        ms_buf_reset(&name);
        ms_buf_printf(&name, "%s:%s", path, en);
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > (la_int64_t)MQ_MAX_DOC) {
            ms_kb__fail(name.data, 0, "document larger than %u bytes", MQ_MAX_DOC);
            ms_kb__imp_bad(imp);
            continue;
        }
        ms_buf_reset(&b);
        const void *blk;
        size_t sz;
        la_int64_t off;
        int too_big = 0;
        while ((r = archive_read_data_block(a, &blk, &sz, &off)) == ARCHIVE_OK) {
            if (b.len + sz > MQ_MAX_DOC) {
                too_big = 1;
                break;
            }
            ms_buf_append(&b, blk, sz);
        }
        if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
            ms_kb__fail(name.data, 0, "corrupt archive entry: %s", archive_error_string(a));
            ms_kb__imp_bad(imp);
            goto done;
        }
        if (too_big) {
            ms_kb__fail(name.data, 0, "document larger than %u bytes", MQ_MAX_DOC);
            ms_kb__imp_bad(imp);
            continue;
        }
        rc = ms_kb__medquad_parse(imp, b.data ? b.data : "", b.len, name.data);
        if (rc == MS_EFORMAT) {
            ms_kb__imp_bad(imp);
            rc = 0;
        } else if (rc) {
            goto done;
        }
        ms_kb__imp_progress(imp, archive_filter_bytes(a, -1), 0);
        /* Commit every MQ_BATCH_US so that a server using the database
         * while we import never waits long for the write lock. */
        if (ms_mono_us() - batch_start > MQ_BATCH_US) {
            if ((rc = ms_kb__commit(imp->db)) != 0 || (rc = ms_kb__begin(imp->db)) != 0)
                goto done;
            batch_start = ms_mono_us();
        }
    }
done:
    archive_read_free(a);
    ms_buf_free(&b);
    ms_buf_free(&name);
    return rc;
}
