/* SPDX-License-Identifier: Apache-2.0 */
/* page.h: the web page's files, built into gpuvisord (cmake/embed.cmake writes the table from
 * web/ at build time), and the headers every answer of the page carries. */
#ifndef GVD_PAGE_H
#define GVD_PAGE_H

#include <stddef.h>

struct gvd_page_file {
    const char *name; /* as the URL names it: "index.html", "app.js" ... */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct gvd_page_file gvd_page_files[];
extern const unsigned gvd_page_nfiles;

/* The file named name, or NULL. */
const struct gvd_page_file *gvd_page_find(const char *name);

/* The policy the page is served under: its own scripts, styles and API only; no inline code, no
 * other origin, no frames. */
#define GVD_PAGE_CSP                                                                               \
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "              \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

#endif
