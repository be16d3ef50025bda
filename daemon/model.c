/* SPDX-License-Identifier: Apache-2.0 */
/* model.c: the daemon's model in memory: finding, adding and removing tenants, instances and
 * profiles, and adding up what they hold.
 *
 * Plain arrays of pointers searched linearly: a server has tens of tenants and at most thousands of
 * instances, and a scan of a thousand ids costs microseconds, far below one database commit. The
 * instance array keeps creation order (removal shifts), which is the order listings show. Every
 * function here is called with d->lock held (read for lookups, write for changes). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/gvd.h"

/* Append p to the array *arr of *n entries (capacity *cap). */
static int push(void ***arr, size_t *n, size_t *cap, void *p)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        void **a = realloc(*arr, c * sizeof(*a));
        if (!a)
            return -ENOMEM;
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

/* Remove p from the array, keeping the order of the others. */
static void drop(void **arr, size_t *n, const void *p)
{
    for (size_t i = 0; i < *n; i++)
        if (arr[i] == p) {
            memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(arr[0]));
            (*n)--;
            return;
        }
}

struct gvd_tenant *gvd_tenant_find(struct gvd *d, const char *name)
{
    for (size_t i = 0; i < d->ntenants; i++)
        if (strcmp(d->tenants[i]->name, name) == 0)
            return d->tenants[i];
    return NULL;
}

struct gvd_profile *gvd_profile_find(struct gvd *d, const char *name)
{
    for (size_t i = 0; i < d->nprofiles; i++)
        if (strcmp(d->profiles[i]->name, name) == 0)
            return d->profiles[i];
    return NULL;
}

struct gvd_instance *gvd_instance_find(struct gvd *d, const char *key, const char *tenant)
{
    if (gvd_is_id(key))
        for (size_t i = 0; i < d->ninstances; i++)
            if (strcmp(d->instances[i]->id, key) == 0)
                return d->instances[i];
    struct gvd_instance *found = NULL;
    for (size_t i = 0; i < d->ninstances; i++) {
        struct gvd_instance *in = d->instances[i];
        if (in->name[0] && strcmp(in->name, key) == 0 && (!tenant || !strcmp(in->tenant, tenant))) {
            if (found)
                return NULL; /* the same name in two tenants: only an id says which */
            found = in;
        }
    }
    return found;
}

struct gvd_gpu *gvd_gpu_by_uuid(struct gvd *d, const uint8_t uuid[GV_UUID_LEN])
{
    for (unsigned i = 0; i < d->ngpus; i++)
        if (memcmp(d->gpus[i].uuid, uuid, GV_UUID_LEN) == 0)
            return &d->gpus[i];
    return NULL;
}

bool gvd_visible(const struct gvd_caller *who, const struct gvd_instance *inst)
{
    return who->role == GVD_ROLE_ADMIN || strcmp(who->tenant->name, inst->tenant) == 0;
}

int gvd_tenant_add(struct gvd *d, struct gvd_tenant *t)
{
    return push((void ***)&d->tenants, &d->ntenants, &d->cap_tenants, t);
}

void gvd_tenant_remove(struct gvd *d, struct gvd_tenant *t)
{
    drop((void **)d->tenants, &d->ntenants, t);
    free(t);
}

int gvd_instance_add(struct gvd *d, struct gvd_instance *inst)
{
    inst->gpu = -1;
    struct gvd_gpu *g = gvd_gpu_by_uuid(d, inst->uuid);
    if (g)
        inst->gpu = (int)(g - d->gpus);
    int rc = push((void ***)&d->instances, &d->ninstances, &d->cap_instances, inst);
    if (!rc)
        d->generation++;
    return rc;
}

void gvd_instance_remove(struct gvd *d, struct gvd_instance *inst)
{
    drop((void **)d->instances, &d->ninstances, inst);
    d->generation++;
    if (inst->mapped)
        gvr_close(&inst->region);
    gvd_history_instance_free(inst);
    free(inst->json);
    free(inst);
}

int gvd_profile_add(struct gvd *d, struct gvd_profile *p)
{
    return push((void ***)&d->profiles, &d->nprofiles, &d->cap_profiles, p);
}

void gvd_profile_remove(struct gvd *d, struct gvd_profile *p)
{
    drop((void **)d->profiles, &d->nprofiles, p);
    free(p);
}

void gvd_tenant_usage(struct gvd *d, const char *tenant, struct gvd_usage *u)
{
    memset(u, 0, sizeof(*u));
    for (size_t i = 0; i < d->ninstances; i++) {
        const struct gvd_instance *in = d->instances[i];
        if (strcmp(in->tenant, tenant) == 0) {
            u->memory += in->memory;
            u->share += in->share;
            u->instances++;
        }
    }
}

void gvd_gpu_usage(struct gvd *d, int gpu, uint64_t *memory, uint32_t *share, uint32_t *count)
{
    uint64_t m = 0;
    uint32_t s = 0, c = 0;
    for (size_t i = 0; i < d->ninstances; i++) {
        const struct gvd_instance *in = d->instances[i];
        if (in->gpu == gpu) {
            m += in->memory;
            s += in->share;
            c++;
        }
    }
    *memory = m;
    *share = s;
    *count = c;
}

int64_t gvd_now(void)
{
    return (int64_t)time(NULL);
}

int64_t gvd_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void gvd_time_format(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        strcpy(out, "1970-01-01T00:00:00Z");
}
