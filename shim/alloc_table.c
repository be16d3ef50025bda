/* SPDX-License-Identifier: Apache-2.0 */
/* alloc_table.c: what each live allocation of this process was charged, so that each free returns
 * exactly its charge.
 *
 * An open-addressing hash table keyed by (kind, key): a device pointer, a VMM handle, an array
 * handle. Each entry also names the context that was current when it was made, so that the entries
 * a context's destruction frees in the driver can be forgotten (a scan, but only then: frees stay
 * one probe). Invariants: a slot is empty (kind 0), live, or a tombstone (kind TOMB); the table is
 * at most half full counting tombstones, so probes end; the lock is held only for the table
 * operation, never across a driver call. A fork()ed child starts with an empty table: CUDA
 * allocations do not survive fork, and the child is a member of its own. */
#include "shim/shim.h"
#include "core/limits.h"
#include "core/uuid.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TOMB 0xff

struct slot {
    uint64_t key;
    uint64_t bytes;
    uint64_t ctx;
    int32_t dev;
    uint32_t refs; /* VMM handles: the handle's references plus one per mapping; 1 otherwise */
    uint8_t kind;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;
static size_t cap, used; /* used counts live slots and tombstones */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void child_reset(void)
{
    pthread_mutex_init(&lock, NULL);
    free(slots);
    slots = NULL;
    cap = used = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, child_reset);
}

static size_t hash(enum gvs_kind kind, uint64_t key)
{
    uint64_t h = (key ^ ((uint64_t)kind << 60)) * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 20);
}

/* Place an entry known to be absent into a table with room (no tombstone reuse needed here). */
static void place(struct slot *t, size_t n, const struct slot *s)
{
    for (size_t i = hash(s->kind, s->key) & (n - 1);; i = (i + 1) & (n - 1)) {
        if (t[i].kind == 0) {
            t[i] = *s;
            return;
        }
    }
}

static bool grow(void)
{
    size_t n = cap ? cap * 2 : 1024;
    size_t live = 0;
    for (size_t i = 0; i < cap; i++)
        if (slots[i].kind && slots[i].kind != TOMB)
            live++;
    /* Rehash in place of growth when tombstones are most of the load. */
    if (cap && live * 4 < cap)
        n = cap;
    struct slot *t = calloc(n, sizeof(*t));
    if (!t)
        return false;
    for (size_t i = 0; i < cap; i++)
        if (slots[i].kind && slots[i].kind != TOMB)
            place(t, n, &slots[i]);
    free(slots);
    slots = t;
    cap = n;
    used = live;
    return true;
}

bool gvs_track(enum gvs_kind kind, uint64_t key, const struct gvs_entry *e)
{
    struct gvs_entry stale = {0, 0, -1};
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&lock);
    if ((used + 1) * 2 > cap && !grow()) {
        pthread_mutex_unlock(&lock);
        return false;
    }
    size_t tomb = SIZE_MAX;
    for (size_t i = hash(kind, key) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        struct slot *s = &slots[i];
        if (s->kind == kind && s->key == key) {
            /* The driver handed out an address we still held: the old object is gone (freed
             * behind our back, e.g. with a context we did not see die), and so is its charge. */
            stale = (struct gvs_entry){s->bytes, s->ctx, s->dev};
            *s = (struct slot){key, e->bytes, e->ctx, e->dev, 1, (uint8_t)kind};
            break;
        }
        if (s->kind == TOMB && tomb == SIZE_MAX)
            tomb = i;
        if (s->kind == 0) {
            if (tomb != SIZE_MAX)
                s = &slots[tomb];
            else
                used++;
            *s = (struct slot){key, e->bytes, e->ctx, e->dev, 1, (uint8_t)kind};
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    /* Outside the lock: an uncharge may have to count the context's memory first (NVML). */
    if (stale.bytes)
        gvs_uncharge(stale.dev, stale.bytes);
    return true;
}

/* Under the lock: the live slot of (kind, key), or NULL. */
static struct slot *find(enum gvs_kind kind, uint64_t key)
{
    for (size_t i = cap ? hash(kind, key) & (cap - 1) : 0; cap; i = (i + 1) & (cap - 1)) {
        struct slot *s = &slots[i];
        if (s->kind == 0)
            return NULL;
        if (s->kind == kind && s->key == key)
            return s;
    }
    return NULL;
}

bool gvs_untrack(enum gvs_kind kind, uint64_t key, struct gvs_entry *e)
{
    pthread_mutex_lock(&lock);
    struct slot *s = find(kind, key);
    if (s) {
        *e = (struct gvs_entry){s->bytes, s->ctx, s->dev};
        s->kind = TOMB;
    }
    pthread_mutex_unlock(&lock);
    return s != NULL;
}

int gvs_ref(enum gvs_kind kind, uint64_t key, int delta, struct gvs_entry *e)
{
    int st = -1;
    pthread_mutex_lock(&lock);
    struct slot *s = find(kind, key);
    if (s) {
        /* A count never goes below 0: a release too many is the driver's error to report. */
        s->refs =
            delta < 0 && s->refs < (uint32_t)-delta ? 0 : (uint32_t)((int64_t)s->refs + delta);
        st = 0;
        if (s->refs == 0) {
            *e = (struct gvs_entry){s->bytes, s->ctx, s->dev};
            s->kind = TOMB;
            st = 1;
        }
    }
    pthread_mutex_unlock(&lock);
    return st;
}

void gvs_forget_ctx(uint64_t ctx)
{
    gvs_contexts_changed(); /* its handle may come back for a context of another GPU */
    /* Charges summed per device under the lock, returned after it: an uncharge may measure. */
    uint64_t per_dev[GV_MAX_GPUS] = {0};
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < cap; i++) {
        struct slot *s = &slots[i];
        if (s->kind == 0 || s->kind == TOMB || s->kind == GVS_VMM || s->ctx != ctx)
            continue;
        if (s->dev >= 0 && s->dev < GV_MAX_GPUS)
            per_dev[s->dev] += s->bytes;
        s->kind = TOMB;
    }
    pthread_mutex_unlock(&lock);
    for (int d = 0; d < GV_MAX_GPUS; d++)
        if (per_dev[d])
            gvs_uncharge(d, per_dev[d]);
}
