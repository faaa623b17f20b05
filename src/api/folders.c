/* /api/folders: a user's folder tree (docs/protocol.md, "Folders"). The
 * store checks ownership on every call (another user's folder is a 404,
 * like an absent one) and decides cycles, limits and name clashes inside
 * the transaction of each change; this file validates input and words the
 * errors. */
#include "api/routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ms__api_path_segment(const ms_http_req_t *r, int n, char *out, size_t outlen) {
    const char *p = r->path;
    for (int i = 0; p && i <= n; i++) {
        if (*p != '/')
            return MS_ENOENT;
        p++;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i == n) {
            if (len == 0 || len >= outlen)
                return MS_ENOENT;
            memcpy(out, p, len);
            out[len] = '\0';
            return 0;
        }
        p += len;
    }
    return MS_ENOENT;
}

int ms__api_opt_str(json_t *body, const char *key, int *present, const char **value) {
    json_t *v = json_object_get(body, key);
    *present = v != NULL;
    *value = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return MS_EINVAL;
    *value = json_string_value(v);
    return 0;
}

static ms_folder_limits_t limits(const ms_http_req_t *r) {
    ms_folder_limits_t lim = {(int)r->api->cfg->folder_max_depth,
                              (int)r->api->cfg->max_folders_per_user};
    return lim;
}

/* Reads and checks the body's fields into *f; on a bad one responds 400
 * and returns MS_EINVAL. */
static int read_fields(ms_http_req_t *r, ms_folder_fields_t *f) {
    const char *bad = NULL;
    memset(f, 0, sizeof *f);
    if (ms__api_opt_str(r->json, "name", &f->set_name, &f->name) ||
        (f->set_name && !ms_folder_name_valid(f->name)))
        bad = "\"name\" must be 1 to 100 characters without control characters";
    else if (ms__api_opt_str(r->json, "color", &f->set_color, &f->color) ||
             (f->color && !ms_folder_color_valid(f->color)))
        bad = "\"color\" must be \"#rgb\" or \"#rrggbb\" (hexadecimal) or null";
    else if (ms__api_opt_str(r->json, "icon", &f->set_icon, &f->icon) ||
             (f->icon && !ms_folder_icon_valid(f->icon)))
        bad = "\"icon\" must be an icon name (1 to 32 of a-z, 0-9, '-', '_') or null";
    else if (ms__api_opt_str(r->json, "parent_folder_id", &f->set_parent, &f->parent_id))
        bad = "\"parent_folder_id\" must be a folder id or null";
    if (bad) {
        ms_http_respond_error(r, 400, "invalid_request", bad);
        return MS_EINVAL;
    }
    return 0;
}

/* The errors of a folder write, worded for the client. */
static void folder_error(ms_http_req_t *r, int rc) {
    char msg[160];
    switch (rc) {
    case MS_EEXIST:
        ms_http_respond_error(r, 409, "conflict", "a folder with this name already exists there");
        break;
    case MS_EINVAL:
        ms_http_respond_error(r, 409, "folder_cycle",
                              "a folder cannot move into itself or one of its subfolders");
        break;
    case MS_ETOOBIG:
        snprintf(
            msg, sizeof msg, "folders nest at most %lld levels deep and a user has at most %lld",
            (long long)r->api->cfg->folder_max_depth, (long long)r->api->cfg->max_folders_per_user);
        ms_http_respond_error(r, 409, "folder_limit", msg);
        break;
    default:
        ms_api_store_error(r, rc);
    }
}

void ms_api_folder_create(ms_http_req_t *r, ms_store_t *st) {
    ms_folder_fields_t f;
    if (read_fields(r, &f))
        return;
    if (!f.name) {
        ms_http_respond_error(r, 400, "invalid_request", "\"name\" is required");
        return;
    }
    if (f.parent_id && !ms_id_valid(f.parent_id)) {
        ms_api_store_error(r, MS_ENOENT);
        return;
    }
    ms_folder_limits_t lim = limits(r);
    json_t *out = NULL;
    int rc = ms_store_folder_create(st, r->user.sub, &f, &lim, &out);
    if (rc) {
        folder_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 201, out);
}

/* A folder named in a query argument or a path: "root" (or an empty
 * parent_id) is the top level, *id NULL. MS_ENOENT for anything that is
 * not a UUID: it cannot name a folder. */
static int folder_ref(const char *v, const char **id) {
    *id = NULL;
    if (!v || !*v || !strcmp(v, "root"))
        return 0;
    if (!ms_id_valid(v))
        return MS_ENOENT;
    *id = v;
    return 0;
}

void ms_api_folder_list(ms_http_req_t *r, ms_store_t *st) {
    char *parent = ms_http_query_arg(r, "parent_id");
    const char *pid;
    json_t *list = NULL;
    int rc = folder_ref(parent, &pid);
    if (!rc)
        rc = ms_store_folder_list(st, r->user.sub, pid, &list);
    free(parent);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, json_pack("{s:o}", "folders", list));
}

void ms_api_folder_tree(ms_http_req_t *r, ms_store_t *st) {
    json_t *tree = NULL;
    int rc = ms_store_folder_tree(st, r->user.sub, &tree);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, json_pack("{s:o}", "folders", tree));
}

void ms_api_folder_get(ms_http_req_t *r, ms_store_t *st) {
    json_t *out = NULL;
    int rc = ms_store_folder_get(st, r->user.sub, r->param, &out);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, out);
}

void ms_api_folder_put(ms_http_req_t *r, ms_store_t *st) {
    ms_folder_fields_t f;
    if (read_fields(r, &f))
        return;
    if (!f.set_name && !f.set_color && !f.set_icon && !f.set_parent) {
        ms_http_respond_error(r, 400, "invalid_request",
                              "give at least one of \"name\", \"color\", \"icon\", "
                              "\"parent_folder_id\"");
        return;
    }
    if (!ms_id_valid(r->param) || (f.parent_id && !ms_id_valid(f.parent_id))) {
        ms_api_store_error(r, MS_ENOENT);
        return;
    }
    ms_folder_limits_t lim = limits(r);
    json_t *out = NULL;
    int rc = ms_store_folder_update(st, r->user.sub, r->param, &f, &lim, &out);
    if (rc) {
        folder_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, out);
}

void ms_api_folder_delete(ms_http_req_t *r, ms_store_t *st) {
    int rc = ms_store_folder_delete(st, r->user.sub, r->param);
    if (rc == MS_EEXIST) {
        ms_http_respond_error(r, 409, "conflict",
                              "a subfolder's name is already used in the parent folder; rename "
                              "or move it first");
        return;
    }
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 204, NULL);
}

/* POST /api/folders/{id}/move/{target_id}: segments 2 and 4 of the path;
 * the target "root" is the top level. */
void ms_api_folder_move(ms_http_req_t *r, ms_store_t *st) {
    char id[MS_ID_LEN], target[MS_ID_LEN];
    ms_folder_fields_t f = {.set_parent = 1};
    int rc = ms__api_path_segment(r, 2, id, sizeof id);
    if (!rc)
        rc = ms__api_path_segment(r, 4, target, sizeof target);
    if (!rc && !ms_id_valid(id))
        rc = MS_ENOENT;
    if (!rc)
        rc = folder_ref(target, &f.parent_id);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_folder_limits_t lim = limits(r);
    json_t *out = NULL;
    if ((rc = ms_store_folder_update(st, r->user.sub, id, &f, &lim, &out)) != 0) {
        folder_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, out);
}
