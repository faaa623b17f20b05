/* The blob storage seam: where attachment bytes live, behind
 * ms_blob_ops_t. The local filesystem backend (blob_local.c) keeps each
 * blob as one file under the data directory; an object store (S3 and
 * friends) is the next backend, so the interface speaks of keys, not
 * paths, and hands out a local path only through ms_blob_local_path (an
 * object store would download to a temporary file there).
 *
 * A store handle is thread-safe (it holds no per-call state); a writer is
 * used by one thread at a time. Functions return 0 or a negative MS_E*. */
#ifndef MS_FILES_BLOB_H
#define MS_FILES_BLOB_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_blob_store ms_blob_store_t;
typedef struct ms_blob_writer ms_blob_writer_t;

/** A backend's function table; each op has the contract of the ms_blob_*
 * function of the same name. */
typedef struct ms_blob_ops {
    const char *name;
    void (*close)(ms_blob_store_t *bs);
    int (*create)(ms_blob_store_t *bs, const char *key, ms_blob_writer_t **out);
    int (*write)(ms_blob_writer_t *w, const void *p, size_t n);
    int (*commit)(ms_blob_writer_t *w);
    void (*abort)(ms_blob_writer_t *w);
    int (*local_path)(ms_blob_store_t *bs, const char *key, char **path);
    int (*read)(ms_blob_store_t *bs, const char *key, int64_t max, char **data, size_t *n);
    int (*remove)(ms_blob_store_t *bs, const char *key);
} ms_blob_ops_t;

/** The base every backend's handle starts with. */
struct ms_blob_store {
    const ms_blob_ops_t *ops;
};

/** The base every backend's writer starts with. */
struct ms_blob_writer {
    ms_blob_store_t *bs;
    int64_t written; /**< bytes written so far */
};

/** Opens the blob store for a data directory: the local backend keeps
 * blobs in DIR/attachments/<first two hex digits of the key>/<key>
 * (directories 0700, files 0600: they hold PHI). 0, MS_EINVAL, MS_EIO. */
int ms_blob_open(const char *data_dir, ms_blob_store_t **out);
/** Closes the handle; NULL-safe. */
void ms_blob_close(ms_blob_store_t *bs);

/** Starts a new blob under key (a UUID: ms_id_valid). MS_EEXIST when the
 * key is taken, MS_EINVAL for a bad key, MS_EIO. Nothing is visible under
 * the key until commit. */
int ms_blob_create(ms_blob_store_t *bs, const char *key, ms_blob_writer_t **out);
/** Appends n bytes. MS_EIO (disk full, ...): the writer must then be
 * aborted. */
int ms_blob_write(ms_blob_writer_t *w, const void *p, size_t n);
/** Makes the blob durable (fsync) and visible under its key; frees w
 * whatever the result (on failure nothing is kept). */
int ms_blob_commit(ms_blob_writer_t *w);
/** Throws the blob away and frees w; NULL-safe. */
void ms_blob_abort(ms_blob_writer_t *w);
/** A local file path holding the blob (for libraries that read files:
 * poppler, libzip), malloc'd. MS_ENOENT when absent. */
int ms_blob_local_path(ms_blob_store_t *bs, const char *key, char **path);
/** The whole blob into memory (*data malloc'd, *n bytes); MS_ETOOBIG when
 * it is larger than max bytes, MS_ENOENT when absent. */
int ms_blob_read(ms_blob_store_t *bs, const char *key, int64_t max, char **data, size_t *n);
/** Deletes the blob (0 also when it was absent). */
int ms_blob_remove(ms_blob_store_t *bs, const char *key);

#endif
