/* The web client's files, compiled into the binary (as ttyd does with its
 * html.h): the committed, gzip-compressed build in ui/dist, turned into a
 * table by cmake/embed_ui.cmake at build time. */
#ifndef MS_API_UI_ASSETS_H
#define MS_API_UI_ASSETS_H

#include <stddef.h>

/** One file: its URL path ("/index.html", "/assets/index-3f9a1c2b.js"), its
 * gzip bytes (RFC 1952) and their length. Static, read-only. */
typedef struct {
    const char *path;
    const unsigned char *gz;
    size_t gz_len;
} ms_ui_asset_t;

/** The table, sorted by path (the generator globs in sorted order). */
extern const ms_ui_asset_t ms_ui_assets[];
extern const size_t ms_ui_assets_count;

#endif
