/* SPDX-License-Identifier: Apache-2.0 */
/* host.c: the host's side of VMs through gpuvisord: whole GPUs given to VMs (VFIO passthrough) and
 * vendor vGPUs (mdev, NVIDIA SR-IOV), with the host library (host/host.h) doing the sysfs work.
 *
 * The definitions (what was given to VMs, which vGPUs exist) are rows of the database, copied in
 * d->host_state. A change runs inside one transaction: the library changes the host (undoing its
 * own writes when one fails), then the row and the audit event are written and committed; when
 * the database refuses, the host change is undone, so that the host and the database never
 * disagree for long. The definitions are also mirrored to the standalone state file, so that
 * `gpuvisor host --local` sees what the daemon did, and so that importing that file at start
 * (below) never brings back what the daemon removed.
 *
 * At start, before NVML is read, the database's definitions, and those of the state file and of
 * mdevctl that it lacks (a host managed before the daemon), are applied: bindings, SR-IOV virtual
 * functions and vGPUs do not survive a reboot, and VMs that start after the daemon find them.
 *
 * A GPU given to VMs or carrying vGPUs takes no instances: its host mode overrides the admin's
 * (gvd_gpu_mode), and a GPU with instances is neither given to VMs nor made a vGPU parent. A dry
 * run (?dry_run=1) runs the library with dry_run set and its plan captured, and answers the writes
 * it would make; nothing is written, recorded or logged as an event. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api.h"
#include "daemon/store.h"

#define XML_MAX (64 * 1024) /* the <hostdev> elements of one id */

/* --- Errors: the library's codes (host.h) as statuses. */

static int host_status(int rc)
{
    switch (rc) {
    case -EINVAL:
    case -ERANGE:
        return 400;
    case -ENODEV:
    case -ENOENT:
        return 404;
    case -EBUSY:
    case -EEXIST:
    case -ENOSPC:
    case -ENOTSUP:
        return 409;
    case -ENOPKG:
        return 503; /* vfio-pci not loaded: the host is not ready, the request was fine */
    default:
        return 500;
    }
}

static void host_err(struct gvd_resp *r, int rc, const struct gv_error *err)
{
    int status = host_status(rc);
    if (status == 500)
        fprintf(stderr, "gpuvisord: %s\n", err->msg);
    gvd_reply_error(r, status, "%s", err->msg[0] ? err->msg : "internal error");
}

/* --- Records. */

static int find_pt(const struct gvh_state *s, const char *bdf)
{
    for (size_t i = 0; i < s->npt; i++)
        if (strcmp(s->pt[i].gpu, bdf) == 0)
            return (int)i;
    return -1;
}

static int find_vgpu(const struct gvh_state *s, const char *id)
{
    for (size_t i = 0; i < s->nvgpus; i++)
        if (strcmp(s->vgpus[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* The standalone state file follows the database (see the top of the file). */
static void mirror(struct gvd *d)
{
    struct gv_error e = {0};
    if (gvh_state_save(&d->host, &d->host_state, &e) != 0)
        fprintf(stderr, "gpuvisord: host: the state file was not updated: %s\n", e.msg);
}

/* --- Modes. */

static enum gvd_gpu_mode from_host(enum gvh_mode m)
{
    return m == GVH_MODE_PASSTHROUGH   ? GVD_MODE_PASSTHROUGH
           : m == GVH_MODE_VGPU_PARENT ? GVD_MODE_VGPU_PARENT
                                       : GVD_MODE_SLICED;
}

static int gpu_by_pci(struct gvd *d, const char *pci)
{
    for (unsigned i = 0; i < d->ngpus; i++)
        if (d->gpus[i].pci[0] && strcmp(d->gpus[i].pci, pci) == 0)
            return (int)i;
    return -1;
}

/* Simulated GPUs against the real PCI tree: the tree's devices are not the simulator's, so only the
 * records say what is given to VMs (a test or demo names a fake tree with --sysfs-root). */
static bool foreign_tree(const struct gvd *d)
{
    return d->cfg.sim[0] && strcmp(d->host.root, "/") == 0;
}

static enum gvh_mode recorded_mode(const struct gvh_state *s, const char *pci)
{
    if (find_pt(s, pci) >= 0)
        return GVH_MODE_PASSTHROUGH;
    for (size_t i = 0; i < s->nvgpus; i++)
        if (strcmp(s->vgpus[i].parent, pci) == 0)
            return GVH_MODE_VGPU_PARENT;
    return GVH_MODE_HOST;
}

void gvd_host_refresh(struct gvd *d)
{
    bool foreign = foreign_tree(d);
    for (unsigned i = 0; i < d->ngpus; i++) {
        struct gvd_gpu *g = &d->gpus[i];
        enum gvh_mode m = !g->pci[0] ? GVH_MODE_HOST
                          : foreign  ? recorded_mode(&d->host_state, g->pci)
                                     : gvh_mode_of(&d->host, &d->host_state, g->pci);
        g->host = from_host(m);
    }
    free(d->host_gpus);
    d->host_gpus = NULL;
    d->nhost_gpus = 0;
    struct gvh_gpu *list;
    size_t n;
    struct gv_error e = {0};
    if (foreign || gvh_list(&d->host, &list, &n, &e) != 0)
        return; /* no PCI tree to read (a container): no GPU to add */
    d->host_gpus = calloc(n ? n : 1, sizeof(*d->host_gpus));
    for (size_t k = 0; d->host_gpus && k < n; k++) {
        if (gpu_by_pci(d, list[k].bdf) >= 0)
            continue;
        struct gvd_host_gpu *h = &d->host_gpus[d->nhost_gpus++];
        snprintf(h->pci, sizeof(h->pci), "%s", list[k].bdf);
        snprintf(h->model, sizeof(h->model), "%s", list[k].model);
        h->mode = gvh_mode_of(&d->host, &d->host_state, list[k].bdf);
    }
    gvh_gpus_free(list, n);
}

/* A GPU with gpuvisord's instances stays the host's: 409 and true. */
static bool has_instances(struct gvd *d, const char *pci, const char *what, struct gvd_resp *r)
{
    int g = gpu_by_pci(d, pci);
    if (g < 0)
        return false;
    uint64_t memory;
    uint32_t share, count;
    gvd_gpu_usage(d, g, &memory, &share, &count);
    if (count == 0)
        return false;
    gvd_reply_error(r, 409, "GPU %d (%s) has %u instance%s: delete %s before %s", g, pci, count,
                    count == 1 ? "" : "s", count == 1 ? "it" : "them", what);
    return true;
}

/* --- Dry runs: the library's plan, captured. */

struct plan {
    struct gvh_ctx c;
    FILE *f;
    char *text;
    size_t len;
};

static int plan_open(struct gvd *d, struct plan *p, struct gvd_resp *r)
{
    p->c = d->host;
    p->c.dry_run = true;
    p->c.on_write = NULL;
    p->text = NULL;
    p->len = 0;
    if (!(p->f = open_memstream(&p->text, &p->len))) {
        gvd_reply_error(r, 500, "out of memory");
        return -ENOMEM;
    }
    p->c.out = p->f;
    return 0;
}

/* Close the plan and answer with it (gvh_plan_json), or, when the library refused (rc), with its
 * refusal. */
static void plan_end(struct plan *p, struct gvd_resp *r, int rc, const struct gv_error *err)
{
    fclose(p->f);
    if (rc)
        host_err(r, rc, err);
    else
        gvd_reply_json(r, 200, gvh_plan_json(p->text));
    free(p->text);
}

/* --- Changes: the host first, then the row and the event in one transaction. */

/* Record a change the library made: put pt or vg, or delete the row of delete_id (NULL for none),
 * and the event (detail stolen), committed. 0, or an error with nothing recorded: the caller then
 * undoes the host change. */
static int record(struct gvd *d, const struct gvd_caller *who, const char *action,
                  const char *target, json_t *detail, const struct gvh_passthrough *pt,
                  const struct gvh_vgpu *vg, const char *delete_id, struct gv_error *err)
{
    int rc = gvd_store_begin(d->store, err);
    if (rc) {
        json_decref(detail);
        return rc;
    }
    rc = pt          ? gvd_store_host_passthrough(d->store, pt, err)
         : vg        ? gvd_store_host_vgpu(d->store, vg, err)
         : delete_id ? gvd_store_host_delete(d->store, delete_id, err)
                     : 0;
    if (!rc)
        rc = gvd_event(d, who, NULL, action, target, detail, err);
    else
        json_decref(detail);
    if (rc) {
        gvd_store_rollback(d->store);
        return rc;
    }
    return gvd_store_commit(d->store, err);
}

/* After a change: the model follows the database. */
static void changed(struct gvd *d)
{
    mirror(d);
    gvd_host_refresh(d);
}

/* --- Locking of the changes. A change holds host_lock throughout and the model's write lock only
 * to check and to record: the kernel's part (an unbind can take a second) runs with neither
 * lock of the model held, so that token grants and the rest of the API go on. */

static void change_begin(struct gvd *d)
{
    pthread_mutex_lock(&d->host_lock);
    pthread_rwlock_wrlock(&d->lock);
}

static void change_end(struct gvd *d)
{
    pthread_rwlock_unlock(&d->lock);
    pthread_mutex_unlock(&d->host_lock);
}

/* Mark the GPU at pci (when NVML has it) as becoming mode, or as nothing (GVD_MODE_SLICED). */
static void pending(struct gvd *d, const char *pci, enum gvd_gpu_mode mode)
{
    int g = gpu_by_pci(d, pci);
    if (g >= 0)
        d->gpus[g].host_pending = mode;
}

/* --- Handlers. */

void gvd_api_host_gpus(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvh_gpu *g;
    size_t n;
    struct gv_error err = {0};
    int rc = gvh_list(&q->d->host, &g, &n, &err);
    if (rc)
        return host_err(r, rc, &err);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, gvh_gpu_json(&g[i]));
    gvh_gpus_free(g, n);
    gvd_reply_json(r, 200, json_pack("{so}", "gpus", a));
}

void gvd_api_host_types(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvh_type *t;
    size_t n;
    struct gv_error err = {0};
    int rc = gvh_types(&q->d->host, q->path.param, &t, &n, &err);
    if (rc)
        return host_err(r, rc, &err);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, gvh_type_json(&t[i]));
    free(t);
    gvd_reply_json(r, 200, json_pack("{so}", "types", a));
}

void gvd_api_host_passthrough_list(struct gvd_req *q, struct gvd_resp *r)
{
    const struct gvh_state *s = &q->d->host_state;
    json_t *a = json_array();
    for (size_t i = 0; i < s->npt; i++)
        json_array_append_new(a, gvh_passthrough_json(&s->pt[i]));
    gvd_reply_json(r, 200, json_pack("{so}", "passthrough", a));
}

void gvd_api_host_passthrough(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    struct gvd_host_passthrough_req p;
    struct gv_error err = {0};
    int rc = gvd_parse_host_passthrough(q->body, q->body_len, &p, &err);
    if (rc)
        return gvd_reply_err(r, rc, &err);
    change_begin(d);
    if (has_instances(d, p.pci, "giving it to VMs", r))
        goto out;
    if (recorded_mode(&d->host_state, p.pci) == GVH_MODE_VGPU_PARENT) {
        gvd_reply_error(r, 409,
                        "%s carries vGPUs (GET /v1/host/vgpus): remove them before giving it to VMs",
                        p.pci);
        goto out;
    }
    int known = find_pt(&d->host_state, p.pci);
    struct gvh_passthrough rec;
    if (q->query.dry_run) {
        struct plan plan;
        if (plan_open(d, &plan, r) == 0) {
            if (known >= 0)
                fprintf(plan.f, "# %s is given to VMs already: nothing to do\n", p.pci);
            else
                rc = gvh_passthrough(&plan.c, p.pci, &rec, &err);
            plan_end(&plan, r, rc, &err);
        }
        goto out;
    }
    /* Given already: the record keeps the drivers the functions had before, which a second bind
     * (finding them on vfio-pci) would lose. */
    if (known >= 0) {
        gvd_reply_json(r, 200, gvh_passthrough_json(&d->host_state.pt[known]));
        goto out;
    }
    pending(d, p.pci, GVD_MODE_PASSTHROUGH);
    pthread_rwlock_unlock(&d->lock);
    rc = gvh_passthrough(&d->host, p.pci, &rec, &err);
    pthread_rwlock_wrlock(&d->lock);
    pending(d, p.pci, GVD_MODE_SLICED);
    if (rc) {
        host_err(r, rc, &err);
        goto out;
    }
    if ((rc = record(d, q->who, "host.passthrough", rec.gpu, gvh_passthrough_json(&rec), &rec, NULL,
                     NULL, &err)) != 0) {
        struct gv_error undo = {0};
        if (gvh_release(&d->host, &rec, &undo) != 0)
            fprintf(stderr, "gpuvisord: host: %s stays on vfio-pci, unrecorded: %s\n", rec.gpu,
                    undo.msg);
        gvd_reply_err(r, -EIO, &err);
        goto out;
    }
    gvh_state_put_passthrough(&d->host_state, &rec);
    changed(d);
    gvd_reply_json(r, 201, gvh_passthrough_json(&rec));
out:
    change_end(d);
}

void gvd_api_host_release(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    const char *bdf = q->path.param;
    change_begin(d);
    int k = find_pt(&d->host_state, bdf);
    if (k < 0) {
        gvd_reply_error(r, 404,
                        "%s: not given to VMs through gpuvisord (GET /v1/host/passthrough lists "
                        "what is)",
                        bdf);
        goto out;
    }
    struct gvh_passthrough rec = d->host_state.pt[k];
    struct gv_error err = {0};
    int rc;
    /* A GPU the host no longer has (taken out, or a record imported from elsewhere): only the
     * record goes. */
    struct gvh_gpu g;
    bool gone = gvh_gpu_get(&d->host, bdf, &g, NULL) == -ENODEV;
    if (!gone)
        gvh_gpu_clear(&g);
    if (q->query.dry_run) {
        struct plan plan;
        if (plan_open(d, &plan, r) == 0) {
            rc = 0;
            if (gone)
                fprintf(plan.f, "# %s is not on this host: only its record goes\n", bdf);
            else
                rc = gvh_release(&plan.c, &rec, &err);
            plan_end(&plan, r, rc, &err);
        }
        goto out;
    }
    /* The GPU stays recorded as given to VMs while it moves: nothing is placed on it meanwhile. */
    pthread_rwlock_unlock(&d->lock);
    rc = gone ? 0 : gvh_release(&d->host, &rec, &err);
    pthread_rwlock_wrlock(&d->lock);
    if (rc) {
        host_err(r, rc, &err);
        goto out;
    }
    if ((rc = record(d, q->who, "host.release", bdf, gvh_passthrough_json(&rec), NULL, NULL, bdf,
                     &err)) != 0) {
        struct gv_error undo = {0};
        struct gvh_passthrough again;
        if (!gone && gvh_passthrough(&d->host, bdf, &again, &undo) != 0)
            fprintf(stderr, "gpuvisord: host: %s is released but still recorded: %s\n", bdf,
                    undo.msg);
        gvd_reply_err(r, -EIO, &err);
        goto out;
    }
    gvh_state_remove(&d->host_state, bdf);
    changed(d);
    gvd_reply_json(r, 200, json_pack("{ss}", "released", bdf));
out:
    change_end(d);
}

void gvd_api_host_vgpus_list(struct gvd_req *q, struct gvd_resp *r)
{
    const struct gvh_state *s = &q->d->host_state;
    json_t *a = json_array();
    for (size_t i = 0; i < s->nvgpus; i++)
        json_array_append_new(a, gvh_vgpu_json(&s->vgpus[i]));
    gvd_reply_json(r, 200, json_pack("{so}", "vgpus", a));
}

void gvd_api_host_vgpu_create(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    struct gvd_host_vgpu_req c;
    struct gv_error err = {0};
    int rc = gvd_parse_host_vgpu(q->body, q->body_len, &c, &err);
    if (rc)
        return gvd_reply_err(r, rc, &err);
    change_begin(d);
    if (has_instances(d, c.parent, "making vGPUs on it", r))
        goto out;
    if (find_pt(&d->host_state, c.parent) >= 0) {
        gvd_reply_error(r, 409,
                        "%s is given to VMs whole: release it (DELETE /v1/host/passthrough/%s) "
                        "before making vGPUs on it",
                        c.parent, c.parent);
        goto out;
    }
    if (c.uuid[0] && find_vgpu(&d->host_state, c.uuid) >= 0) {
        gvd_reply_error(r, 409, "vGPU %s exists already", c.uuid);
        goto out;
    }
    const char *uuid = c.uuid[0] ? c.uuid : NULL;
    struct gvh_vgpu v;
    if (q->query.dry_run) {
        struct plan plan;
        if (plan_open(d, &plan, r) == 0)
            plan_end(&plan, r, gvh_vgpu_create(&plan.c, c.parent, c.type, uuid, &v, &err), &err);
        goto out;
    }
    pending(d, c.parent, GVD_MODE_VGPU_PARENT);
    pthread_rwlock_unlock(&d->lock);
    rc = gvh_vgpu_create(&d->host, c.parent, c.type, uuid, &v, &err);
    pthread_rwlock_wrlock(&d->lock);
    pending(d, c.parent, GVD_MODE_SLICED);
    if (rc) {
        host_err(r, rc, &err);
        goto out;
    }
    if ((rc = record(d, q->who, "host.vgpu.create", v.id, gvh_vgpu_json(&v), NULL, &v, NULL,
                     &err)) != 0) {
        struct gv_error undo = {0};
        if (gvh_vgpu_remove(&d->host, &v, &undo) != 0)
            fprintf(stderr, "gpuvisord: host: vGPU %s stays, unrecorded: %s\n", v.id, undo.msg);
        gvd_reply_err(r, -EIO, &err);
        goto out;
    }
    gvh_state_put_vgpu(&d->host_state, &v);
    changed(d);
    gvd_reply_json(r, 201, gvh_vgpu_json(&v));
out:
    change_end(d);
}

void gvd_api_host_vgpu_remove(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    const char *id = q->path.param;
    change_begin(d);
    int k = find_vgpu(&d->host_state, id);
    struct gvh_vgpu v;
    struct gv_error err = {0};
    /* What exists now; a recorded vGPU that a reboot took and no apply made again has only its
     * record to remove. */
    int found = gvh_vgpu_find(&d->host, id, &v, &err);
    int rc;
    if (found != 0 && (found != -ENOENT || k < 0)) {
        host_err(r, found, &err);
        goto out;
    }
    if (q->query.dry_run) {
        struct plan plan;
        if (plan_open(d, &plan, r) == 0) {
            rc = 0;
            if (found != 0)
                fprintf(plan.f, "# vGPU %s does not exist now: only its record goes\n", id);
            else
                rc = gvh_vgpu_remove(&plan.c, &v, &err);
            plan_end(&plan, r, rc, &err);
        }
        goto out;
    }
    pthread_rwlock_unlock(&d->lock);
    rc = found == 0 ? gvh_vgpu_remove(&d->host, &v, &err) : 0;
    pthread_rwlock_wrlock(&d->lock);
    if (rc) {
        host_err(r, rc, &err);
        goto out;
    }
    json_t *detail = found == 0 ? gvh_vgpu_json(&v) : gvh_vgpu_json(&d->host_state.vgpus[k]);
    if ((rc = record(d, q->who, "host.vgpu.remove", id, detail, NULL, NULL, k >= 0 ? id : NULL,
                     &err)) != 0) {
        struct gv_error undo = {0};
        struct gvh_vgpu again;
        if (found == 0 &&
            gvh_vgpu_create(&d->host, v.parent, v.type, v.sriov ? NULL : v.id, &again, &undo) != 0)
            fprintf(stderr, "gpuvisord: host: vGPU %s is removed but still recorded: %s\n", id,
                    undo.msg);
        gvd_reply_err(r, -EIO, &err);
        goto out;
    }
    if (k >= 0)
        gvh_state_remove(&d->host_state, id);
    changed(d);
    gvd_reply_json(r, 200, json_pack("{ss}", "removed", id));
out:
    change_end(d);
}

void gvd_api_host_xml(struct gvd_req *q, struct gvd_resp *r)
{
    char *buf = malloc(XML_MAX);
    if (!buf)
        return gvd_reply_error(r, 500, "out of memory");
    struct gv_error err = {0};
    int n = gvh_xml(&q->d->host, q->path.param, buf, XML_MAX, &err);
    if (n < 0)
        host_err(r, n, &err);
    else
        gvd_reply_json(r, 200, json_pack("{ss}", "xml", buf));
    free(buf);
}

void gvd_api_host_apply(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    struct gv_error err = {0};
    int rc = gvd_parse_host_apply(q->body, q->body_len, &err);
    if (rc)
        return gvd_reply_err(r, rc, &err);
    struct gvh_report *rep = calloc(1, sizeof(*rep));
    if (!rep)
        return gvd_reply_error(r, 500, "out of memory");
    /* host_state changes only under host_lock, which this holds: it is read without the model's
     * lock while the kernel works. Recorded GPUs are not sliced already (their mode says so). */
    pthread_mutex_lock(&d->host_lock);
    if (q->query.dry_run) {
        struct plan plan;
        if (plan_open(d, &plan, r) == 0) {
            /* -EIO: some record failed; the plan's notes say which. */
            rc = gvh_apply(&plan.c, &d->host_state, rep, &err);
            plan_end(&plan, r, rc == -EIO ? 0 : rc, &err);
        }
        pthread_mutex_unlock(&d->host_lock);
        free(rep);
        return;
    }
    rc = gvh_apply(&d->host, &d->host_state, rep, &err);
    if (rc && rc != -EIO) { /* -EIO: some record failed; the report says which */
        pthread_mutex_unlock(&d->host_lock);
        free(rep);
        return host_err(r, rc, &err);
    }
    pthread_rwlock_wrlock(&d->lock);
    json_t *counts = json_pack("{sisisi}", "done", (int)rep->done, "already", (int)rep->already,
                               "failed", (int)rep->failed);
    struct gv_error e = {0};
    if (record(d, q->who, "host.apply", "host", json_deep_copy(counts), NULL, NULL, NULL, &e) != 0)
        fprintf(stderr, "gpuvisord: host: apply not logged: %s\n", e.msg);
    gvd_host_refresh(d);
    change_end(d);
    json_object_set_new(counts, "report", json_string(rep->text));
    free(rep);
    gvd_reply_json(r, 200, counts);
}

/* --- At start. */

/* Definitions of the state file and of mdevctl the database lacks: into it, and d->host_state. */
static void import(struct gvd *d)
{
    struct gvh_state file = {0}, add = {0};
    struct gv_error e = {0};
    if (gvh_state_load(&d->host, &file, &e) != 0) {
        fprintf(stderr, "gpuvisord: host: the state file and mdevctl's definitions not read: %s\n",
                e.msg);
        return;
    }
    int rc = 0;
    for (size_t i = 0; !rc && i < file.npt; i++)
        if (find_pt(&d->host_state, file.pt[i].gpu) < 0)
            rc = gvh_state_put_passthrough(&add, &file.pt[i]);
    for (size_t i = 0; !rc && i < file.nvgpus; i++)
        if (find_vgpu(&d->host_state, file.vgpus[i].id) < 0)
            rc = gvh_state_put_vgpu(&add, &file.vgpus[i]);
    if (!rc && (add.npt || add.nvgpus)) {
        if ((rc = gvd_store_begin(d->store, &e)) == 0) {
            for (size_t i = 0; !rc && i < add.npt; i++)
                rc = gvd_store_host_passthrough(d->store, &add.pt[i], &e);
            for (size_t i = 0; !rc && i < add.nvgpus; i++)
                rc = gvd_store_host_vgpu(d->store, &add.vgpus[i], &e);
            if (!rc)
                rc = gvd_event(
                    d, NULL, NULL, "host.import", "host",
                    json_pack("{sisi}", "passthrough", (int)add.npt, "vgpus", (int)add.nvgpus), &e);
            if (rc)
                gvd_store_rollback(d->store);
            else
                rc = gvd_store_commit(d->store, &e);
        }
        if (rc) {
            fprintf(stderr, "gpuvisord: host: definitions not imported: %s\n", e.msg);
        } else {
            for (size_t i = 0; i < add.npt; i++)
                gvh_state_put_passthrough(&d->host_state, &add.pt[i]);
            for (size_t i = 0; i < add.nvgpus; i++)
                gvh_state_put_vgpu(&d->host_state, &add.vgpus[i]);
            fprintf(stderr,
                    "gpuvisord: host: imported %zu passthrough and %zu vGPU definition%s from the "
                    "state file and mdevctl\n",
                    add.npt, add.nvgpus, add.nvgpus == 1 ? "" : "s");
        }
    }
    gvh_state_free(&add);
    gvh_state_free(&file);
}

int gvd_host_start(struct gvd *d, struct gv_error *err)
{
    gvh_ctx_init(&d->host, d->cfg.sysfs_root[0] ? d->cfg.sysfs_root : NULL,
                 d->cfg.config_root[0] ? d->cfg.config_root : NULL);
    int rc = gvd_store_host_load(d->store, &d->host_state, err);
    if (rc)
        return rc;
    import(d);
    if (!d->host_state.npt && !d->host_state.nvgpus)
        return 0;
    mirror(d);
    struct gvh_report *rep = calloc(1, sizeof(*rep));
    if (!rep)
        return gv_error_set(err, -ENOMEM, "out of memory");
    struct gv_error e = {0};
    rc = gvh_apply(&d->host, &d->host_state, rep, &e);
    fprintf(stderr,
            "gpuvisord: host: applied %zu passthrough and %zu vGPU definition%s: %u done, %u "
            "already there, %u failed\n",
            d->host_state.npt, d->host_state.nvgpus, d->host_state.nvgpus == 1 ? "" : "s",
            rep->done, rep->already, rep->failed);
    char *save = NULL;
    for (char *line = strtok_r(rep->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        fprintf(stderr, "gpuvisord: host: %s\n", line);
    if (rc && e.msg[0])
        fprintf(stderr, "gpuvisord: host: %s\n", e.msg);
    free(rep);
    return 0;
}

void gvd_host_stop(struct gvd *d)
{
    gvh_state_free(&d->host_state);
    free(d->host_gpus);
    d->host_gpus = NULL;
    d->nhost_gpus = 0;
}
