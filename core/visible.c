/* SPDX-License-Identifier: Apache-2.0 */
/* visible.c: reading CUDA_VISIBLE_DEVICES (see visible.h). */
#include "core/visible.h"

#include <string.h>
#include <strings.h>

#include "core/uuid.h"

/* The machine index one entry of `len` bytes names, or -1. */
static int entry(const char *e, size_t len, unsigned n, gv_uuid_text_fn uuid_text, void *arg)
{
    while (len && (*e == ' ' || *e == '\t'))
        e++, len--;
    while (len && (e[len - 1] == ' ' || e[len - 1] == '\t'))
        len--;
    if (!len)
        return -1;
    if (e[0] >= '0' && e[0] <= '9') {
        unsigned v = 0;
        for (size_t i = 0; i < len; i++) {
            if (e[i] < '0' || e[i] > '9' || v > 1000)
                return -1;
            v = v * 10 + (unsigned)(e[i] - '0');
        }
        return v < n ? (int)v : -1;
    }
    int found = -1;
    for (unsigned i = 0; uuid_text && i < n; i++) {
        char text[GV_UUID_TEXT + 16];
        if (!uuid_text(i, text, sizeof(text), arg))
            continue;
        if (len <= strlen(text) && strncasecmp(text, e, len) == 0) {
            if (found >= 0)
                return -1; /* an ambiguous prefix names nothing */
            found = (int)i;
        }
    }
    return found;
}

unsigned gv_visible_parse(const char *list, unsigned n, gv_uuid_text_fn uuid_text, void *arg,
                          int *out, unsigned cap)
{
    unsigned count = 0;
    while (*list && count < cap) {
        const char *end = strchr(list, ',');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        int idx = entry(list, len, n, uuid_text, arg);
        for (unsigned i = 0; i < count && idx >= 0; i++)
            if (out[i] == idx)
                idx = -1;
        if (idx < 0)
            break;
        out[count++] = idx;
        if (!end)
            break;
        list = end + 1;
    }
    return count;
}
