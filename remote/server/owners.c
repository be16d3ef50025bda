/* SPDX-License-Identifier: Apache-2.0 */
/* owners.c: what owns each of a session's handles (exec.h).
 *
 * One session per process, so the record is this process's: a short array, scanned. A session
 * holds tens of streams, events and functions; creating and destroying them is rare next to
 * launches and copies, which never look here. */
#include "remote/server/exec.h"

#include <stdlib.h>

struct owned {
    uint64_t h, owner;
    enum srv_kind kind;
};

static struct owned *list;
static size_t n, cap;

bool srv_own(struct srv *s, enum srv_kind k, uint64_t h, uint64_t owner)
{
    if (n == cap) {
        size_t c = cap ? cap * 2 : 64;
        struct owned *l = realloc(list, c * sizeof(*l));
        if (!l)
            return false;
        list = l;
        cap = c;
    }
    if (!srv_add(s, k, h))
        return false;
    list[n++] = (struct owned){h, owner, k};
    return true;
}

/* Remove the records of what `owner` owns, and of what those own (a worklist: handles of
 * different kinds may share a value, so the walk goes by value). */
static void drop(struct srv *s, uint64_t owner)
{
    uint64_t work[64];
    int depth = 0;
    work[depth++] = owner;
    while (depth > 0) {
        uint64_t o = work[--depth];
        for (size_t i = 0; o && i < n;) {
            if (list[i].owner != o) {
                i++;
                continue;
            }
            struct owned x = list[i];
            list[i] = list[--n];
            srv_del(s, x.kind, x.h);
            if (x.h != o && depth < (int)(sizeof(work) / sizeof(work[0])))
                work[depth++] = x.h;
        }
    }
}

void srv_disown(struct srv *s, enum srv_kind k, uint64_t h)
{
    srv_del(s, k, h);
    for (size_t i = 0; i < n; i++)
        if (list[i].h == h && list[i].kind == k) {
            list[i] = list[--n];
            break;
        }
    drop(s, h);
}

void srv_drop_owner(struct srv *s, uint64_t owner)
{
    srv_mem_drop_ctx(s, owner); /* a context's memory goes with it */
    drop(s, owner);
}
