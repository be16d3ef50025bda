/* SPDX-License-Identifier: Apache-2.0 */
/* gpus.c: the GPUs as the API shows them, their mode and their time slice.
 *
 * What NVML said at start (inventory.c), what instances have been promised on each, and the mode
 * the admin set: sliced (takes instances), whole (kept for one user's jobs outside gpuvisord),
 * passthrough (bound to a VM) or vgpu-parent (the vendor's vGPU manager owns it). The host's view
 * (host.c) overrides the admin's: a GPU given to VMs or carrying vGPUs shows that mode whatever was
 * set. Only a sliced GPU is placed on, and a GPU leaves the sliced mode only when it has no
 * instances. GPUs the host's PCI tree shows and NVML does not (a GPU on vfio-pci is not NVML's)
 * are listed after NVML's, without index or UUID.
 *
 * The time slice is the length of one turn on the GPU for the instances that share its time: the
 * admin's for that GPU, else the daemon's (--timeslice). The local socket's token grants hold to it
 * (local.c); each change is passed on to them once it is committed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/timeslice.h"
#include "daemon/api.h"
#include "daemon/local.h"
#include "daemon/store.h"

enum gvd_gpu_mode gvd_gpu_mode(const struct gvd_gpu *g)
{
    return g->host_pending != GVD_MODE_SLICED ? g->host_pending
           : g->host != GVD_MODE_SLICED       ? g->host
                                              : g->mode;
}

uint64_t gvd_gpu_timeslice(const struct gvd *d, const struct gvd_gpu *g)
{
    return g->timeslice ? g->timeslice : d->cfg.timeslice;
}

void gvd_gpu_timeslice_apply(const struct gvd *d, const struct gvd_gpu *g)
{
    gvd_local_set_timeslice(d->local, g->uuid, gvd_gpu_timeslice(d, g));
}

/* A time slice as the API writes it; 0 (none of its own) as null. */
static json_t *timeslice_json(uint64_t ns)
{
    char text[GV_TIMESLICE_TEXT];
    return ns ? json_string(gv_timeslice_format(ns, text, sizeof(text))) : json_null();
}

static json_t *gpu_json(struct gvd *d, unsigned i)
{
    const struct gvd_gpu *g = &d->gpus[i];
    uint64_t memory;
    uint32_t share, count;
    gvd_gpu_usage(d, (int)i, &memory, &share, &count);
    return json_pack("{si ss s:o ss sI sI s:o si ss s:o s:o}", "index", (int)g->index, "uuid",
                     g->uuid_text, "model", g->model ? json_string(g->model->name) : json_null(),
                     "name", g->product, "memory_total", (json_int_t)g->memory_total,
                     "memory_allocated", (json_int_t)memory, "compute_allocated",
                     gvd_json_share(share), "instances", (int)count, "mode",
                     gvd_mode_name(gvd_gpu_mode(g)), "timeslice",
                     timeslice_json(gvd_gpu_timeslice(d, g)), "pci", gvd_json_str_or_null(g->pci));
}

/* A GPU only the host lists: what the PCI tree says (the name of its device id, as the
 * catalogue's model when it knows it), and no instance. */
static json_t *host_gpu_json(const struct gvd_host_gpu *h)
{
    const struct gv_model *m = h->model[0] ? gv_model_find(h->model, NULL) : NULL;
    return json_pack("{s:o s:o s:o s:o si ss ss}", "index", json_null(), "uuid", json_null(),
                     "model", m ? json_string(m->name) : json_null(), "name",
                     gvd_json_str_or_null(h->model), "instances", 0, "mode", gvh_mode_name(h->mode),
                     "pci", h->pci);
}

json_t *gvd_gpus_json(struct gvd *d)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < d->ngpus; i++)
        json_array_append_new(a, gpu_json(d, i));
    for (size_t i = 0; i < d->nhost_gpus; i++)
        json_array_append_new(a, host_gpu_json(&d->host_gpus[i]));
    return a;
}

void gvd_api_gpus_list(struct gvd_req *q, struct gvd_resp *r)
{
    gvd_reply_json(r, 200, json_pack("{so}", "gpus", gvd_gpus_json(q->d)));
}

int gvd_api_gpu_lookup(struct gvd_req *q, struct gvd_resp *r)
{
    const char *p = q->path.param;
    uint8_t uuid[GV_UUID_LEN];
    if (gv_uuid_parse(p, strlen(p), GV_UUID_PREFIXED, uuid, NULL) == 0) {
        struct gvd_gpu *g = gvd_gpu_by_uuid(q->d, uuid);
        if (g)
            return (int)(g - q->d->gpus);
    } else {
        unsigned i = (unsigned)atoi(p); /* request.c checked: 0 to GV_MAX_GPUS - 1 */
        if (i < q->d->ngpus)
            return (int)i;
    }
    gvd_reply_error(r, 404, "GPU %s: no such GPU (there are %u)", p, q->d->ngpus);
    return -1;
}

void gvd_api_gpu_get(struct gvd_req *q, struct gvd_resp *r)
{
    int i = gvd_api_gpu_lookup(q, r);
    if (i >= 0)
        gvd_reply_json(r, 200, gpu_json(q->d, (unsigned)i));
}

void gvd_api_gpu_patch(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_gpu_patch p;
    struct gv_error err = {0};
    int rc = gvd_parse_gpu_patch(q->body, q->body_len, &p, &err);
    if (rc)
        return gvd_reply_err(r, rc, &err);
    int i = gvd_api_gpu_lookup(q, r);
    if (i < 0)
        return;
    struct gvd_gpu *g = &q->d->gpus[i];
    uint64_t memory;
    uint32_t share, count;
    gvd_gpu_usage(q->d, i, &memory, &share, &count);
    if (p.has_mode && p.mode != GVD_MODE_SLICED && count > 0)
        return gvd_reply_error(r, 409,
                               "GPU %d has %u instance%s: it stays sliced until they are "
                               "deleted",
                               i, count, count == 1 ? "" : "s");
    enum gvd_gpu_mode mode = p.has_mode ? p.mode : g->mode;
    uint64_t slice = !p.timeslice.set ? g->timeslice : p.timeslice.null ? 0 : p.timeslice.value;
    if ((rc = gvd_store_begin(q->d->store, &err)) != 0)
        return gvd_reply_err(r, -EIO, &err);
    rc = gvd_store_gpu_put(q->d->store, g->uuid_text, gvd_mode_name(mode), slice, &err);
    if (!rc && p.has_mode)
        rc = gvd_event(q->d, q->who, NULL, "gpu.mode", g->uuid_text,
                       json_pack("{sssssi}", "from", gvd_mode_name(g->mode), "to",
                                 gvd_mode_name(mode), "gpu", i),
                       &err);
    /* null in the detail: the daemon's default, whatever it is at the time */
    if (!rc && p.timeslice.set)
        rc = gvd_event(q->d, q->who, NULL, "gpu.timeslice", g->uuid_text,
                       json_pack("{s:o s:o si}", "from", timeslice_json(g->timeslice), "to",
                                 timeslice_json(slice), "gpu", i),
                       &err);
    if (rc) {
        gvd_store_rollback(q->d->store);
        return gvd_reply_err(r, -EIO, &err);
    }
    if ((rc = gvd_store_commit(q->d->store, &err)) != 0)
        return gvd_reply_err(r, -EIO, &err);
    g->mode = mode;
    g->timeslice = slice;
    gvd_gpu_timeslice_apply(q->d, g);
    gvd_reply_json(r, 200, gpu_json(q->d, (unsigned)i));
}
