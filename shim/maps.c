/* SPDX-License-Identifier: Apache-2.0 */
/* maps.c: what VMM mappings the process has, for the memory accounting.
 *
 * Mappings: the driver keeps a VMM allocation's physical memory until its handle is released AND
 * its last mapping is unmapped, so the charge follows the handle's references (alloc_table.c), and
 * cuMemUnmap must find which handles it unmapped. The unmap names a range, which may cover several
 * mappings (PyTorch's expandable segments unmap many chunks at once): an array sorted by address,
 * binary-searched, holds (va, size, handle). Mappings are made and unmapped far less often than
 * memory is allocated, so insertion by shifting is cheap enough.
 *
 * The lock is held only for the table operation. A fork()ed child starts empty, like the
 * allocation table. */
#include "shim/shim.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gvs_mapping *maps;
static size_t nmaps, capmaps;

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void child_reset(void)
{
    pthread_mutex_init(&map_lock, NULL);
    free(maps);
    maps = NULL;
    nmaps = capmaps = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, child_reset);
}

/* Under map_lock: the index of the first mapping at or above va. */
static size_t lower_bound(uint64_t va)
{
    size_t lo = 0, hi = nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (maps[mid].va < va)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool gvs_map_add(uint64_t va, uint64_t size, uint64_t handle)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&map_lock);
    if (nmaps == capmaps) {
        size_t n = capmaps ? capmaps * 2 : 64;
        struct gvs_mapping *t = realloc(maps, n * sizeof(*t));
        if (!t) {
            pthread_mutex_unlock(&map_lock);
            return false;
        }
        maps = t;
        capmaps = n;
    }
    size_t i = lower_bound(va);
    if (i < nmaps && maps[i].va == va) {
        /* The driver mapped an address we still held: that mapping is gone without our seeing it
         * unmapped; keep the newest (its handle's reference is what the caller just took). */
        maps[i] = (struct gvs_mapping){va, size, handle};
    } else {
        memmove(&maps[i + 1], &maps[i], (nmaps - i) * sizeof(*maps));
        maps[i] = (struct gvs_mapping){va, size, handle};
        nmaps++;
    }
    pthread_mutex_unlock(&map_lock);
    return true;
}

size_t gvs_map_take(uint64_t va, uint64_t size, struct gvs_mapping **out)
{
    *out = NULL;
    if (size == 0 || va + size < va)
        return 0;
    pthread_mutex_lock(&map_lock);
    size_t first = lower_bound(va), end = first;
    while (end < nmaps && maps[end].va - va < size && maps[end].size <= size - (maps[end].va - va))
        end++;
    size_t n = end - first;
    if (n) {
        *out = malloc(n * sizeof(**out));
        if (*out) {
            memcpy(*out, &maps[first], n * sizeof(**out));
            memmove(&maps[first], &maps[end], (nmaps - end) * sizeof(*maps));
            nmaps -= n;
        } else {
            n = 0;
        }
    }
    pthread_mutex_unlock(&map_lock);
    return n;
}
