/* The local filesystem blob backend (blob.h): one file per blob, written
 * under a temporary name and renamed into place on commit (rename(2) is
 * atomic within a directory), so a crash mid-upload leaves no half file
 * under a real key. */
#include "files/blob.h"

#include "core/buf.h"
#include "core/ms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    ms_blob_store_t base;
    char *root; /* DIR/attachments */
} local_store_t;

typedef struct {
    ms_blob_writer_t base;
    int fd;
    char *tmp, *final;
} local_writer_t;

#define LS(b) ((local_store_t *)(b))

/* mkdir with 0700, tightening an existing directory that others could read. */
static int ensure_dir(const char *path) {
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return MS_EIO;
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return MS_EIO;
    if ((sb.st_mode & 077) && chmod(path, sb.st_mode & 0700) != 0)
        return MS_EIO;
    return 0;
}

/* Keys are UUIDs (hex and dashes): nothing in them can leave the root. */
static int key_ok(const char *key) {
    return key && ms_id_valid(key);
}

static char *path_of(local_store_t *ls, const char *key, const char *prefix) {
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_printf(&b, "%s/%.2s/%s%s", ls->root, key, prefix, key);
    return ms_buf_take(&b);
}

static void l_close(ms_blob_store_t *bs) {
    free(LS(bs)->root);
    free(bs);
}

static int l_create(ms_blob_store_t *bs, const char *key, ms_blob_writer_t **out) {
    local_store_t *ls = LS(bs);
    *out = NULL;
    if (!key_ok(key))
        return MS_EINVAL;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%.2s", ls->root, key);
    if (ensure_dir(dir) != 0)
        return MS_EIO;
    local_writer_t *w = ms_xcalloc(1, sizeof *w);
    w->base.bs = bs;
    w->final = path_of(ls, key, "");
    w->tmp = path_of(ls, key, ".upload-");
    if (access(w->final, F_OK) == 0) {
        free(w->final);
        free(w->tmp);
        free(w);
        return MS_EEXIST;
    }
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        int e = errno;
        free(w->final);
        free(w->tmp);
        free(w);
        return e == EEXIST ? MS_EEXIST : MS_EIO;
    }
    *out = &w->base;
    return 0;
}

static int l_write(ms_blob_writer_t *base, const void *p, size_t n) {
    local_writer_t *w = (local_writer_t *)base;
    const char *s = p;
    while (n > 0) {
        ssize_t k = write(w->fd, s, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return MS_EIO;
        }
        s += k;
        n -= (size_t)k;
        base->written += k;
    }
    return 0;
}

static void writer_free(local_writer_t *w) {
    if (w->fd >= 0)
        close(w->fd);
    free(w->tmp);
    free(w->final);
    free(w);
}

static int l_commit(ms_blob_writer_t *base) {
    local_writer_t *w = (local_writer_t *)base;
    int rc = 0;
    if (fsync(w->fd) != 0 || close(w->fd) != 0)
        rc = MS_EIO;
    w->fd = -1;
    if (!rc && rename(w->tmp, w->final) != 0)
        rc = MS_EIO;
    if (rc) {
        unlink(w->tmp);
    } else {
        /* The rename is durable once the directory is. */
        char *slash = strrchr(w->final, '/');
        *slash = '\0';
        int dfd = open(w->final, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    writer_free(w);
    return rc;
}

static void l_abort(ms_blob_writer_t *base) {
    local_writer_t *w = (local_writer_t *)base;
    unlink(w->tmp);
    writer_free(w);
}

static int l_local_path(ms_blob_store_t *bs, const char *key, char **path) {
    *path = NULL;
    if (!key_ok(key))
        return MS_ENOENT;
    char *p = path_of(LS(bs), key, "");
    if (access(p, R_OK) != 0) {
        free(p);
        return MS_ENOENT;
    }
    *path = p;
    return 0;
}

static int l_read(ms_blob_store_t *bs, const char *key, int64_t max, char **data, size_t *n) {
    *data = NULL;
    *n = 0;
    if (!key_ok(key))
        return MS_ENOENT;
    char *p = path_of(LS(bs), key, "");
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    free(p);
    if (fd < 0)
        return errno == ENOENT ? MS_ENOENT : MS_EIO;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return MS_EIO;
    }
    if (sb.st_size > max) {
        close(fd);
        return MS_ETOOBIG;
    }
    size_t size = (size_t)sb.st_size, got = 0;
    char *buf = ms_xmalloc(size ? size : 1);
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (got != size) {
        free(buf);
        return MS_EIO;
    }
    *data = buf;
    *n = size;
    return 0;
}

static int l_remove(ms_blob_store_t *bs, const char *key) {
    if (!key_ok(key))
        return 0;
    char *p = path_of(LS(bs), key, "");
    int rc = unlink(p) == 0 || errno == ENOENT ? 0 : MS_EIO;
    free(p);
    return rc;
}

static const ms_blob_ops_t local_ops = {
    .name = "local",
    .close = l_close,
    .create = l_create,
    .write = l_write,
    .commit = l_commit,
    .abort = l_abort,
    .local_path = l_local_path,
    .read = l_read,
    .remove = l_remove,
};

int ms_blob_open(const char *data_dir, ms_blob_store_t **out) {
    *out = NULL;
    if (!data_dir || !*data_dir)
        return MS_EINVAL;
    local_store_t *ls = ms_xcalloc(1, sizeof *ls);
    ls->base.ops = &local_ops;
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_printf(&b, "%s/attachments", data_dir);
    ls->root = ms_buf_take(&b);
    if (ensure_dir(data_dir) != 0 || ensure_dir(ls->root) != 0) {
        l_close(&ls->base);
        return MS_EIO;
    }
    *out = &ls->base;
    return 0;
}

void ms_blob_close(ms_blob_store_t *bs) {
    if (bs)
        bs->ops->close(bs);
}

int ms_blob_create(ms_blob_store_t *bs, const char *key, ms_blob_writer_t **out) {
    return bs->ops->create(bs, key, out);
}

int ms_blob_write(ms_blob_writer_t *w, const void *p, size_t n) {
    return w->bs->ops->write(w, p, n);
}

int ms_blob_commit(ms_blob_writer_t *w) {
    return w->bs->ops->commit(w);
}

void ms_blob_abort(ms_blob_writer_t *w) {
    if (w)
        w->bs->ops->abort(w);
}

int ms_blob_local_path(ms_blob_store_t *bs, const char *key, char **path) {
    return bs->ops->local_path(bs, key, path);
}

int ms_blob_read(ms_blob_store_t *bs, const char *key, int64_t max, char **data, size_t *n) {
    return bs->ops->read(bs, key, max, data, n);
}

int ms_blob_remove(ms_blob_store_t *bs, const char *key) {
    return bs->ops->remove(bs, key);
}
