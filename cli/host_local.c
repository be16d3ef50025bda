/* SPDX-License-Identifier: Apache-2.0 */
/* host_local.c: `gpuvisor host` without gpuvisord: the host library on this machine's sysfs, and
 * the definitions in the standalone state file.
 *
 * The state file (<config_root>/var/lib/gpuvisor/host.json, gvh_state_load/save) is what lets
 * `release` give each function back to the driver it had and `apply` rebuild everything after a
 * reboot, so every change made here is recorded in it at once, and a dry run records nothing. The
 * checks the library leaves to its caller are made here, on the records: a GPU with vGPUs is not
 * given whole to a VM, a GPU given to VMs gets no vGPUs, and a second passthrough of a GPU keeps
 * the drivers recorded the first time (by then the device only shows vfio-pci). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/host_cli.h"

#define STATE_FILE "var/lib/gpuvisor/host.json" /* under the config root; for messages */
#define XML_MAX    16384                        /* a slot's functions, one <hostdev> each */

/* The outcome of a local command as an exit status. -EINVAL is the library's "bad input" (an
 * unknown type, a device that is not a GPU): a usage error, as a malformed address is. */
static int status_of(int rc)
{
    if (rc == -EINVAL)
        return CLI_EXIT_USAGE;
    return rc == -ENOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_REFUSED;
}

static const struct gvh_passthrough *find_pt(const struct gvh_state *s, const char *gpu)
{
    for (size_t i = 0; i < s->npt; i++)
        if (strcmp(s->pt[i].gpu, gpu) == 0)
            return &s->pt[i];
    return NULL;
}

static const struct gvh_vgpu *find_vgpu(const struct gvh_state *s, const char *id)
{
    for (size_t i = 0; i < s->nvgpus; i++)
        if (strcmp(s->vgpus[i].id, id) == 0)
            return &s->vgpus[i];
    return NULL;
}

static const struct gvh_vgpu *vgpu_on(const struct gvh_state *s, const char *parent)
{
    for (size_t i = 0; i < s->nvgpus; i++)
        if (strcmp(s->vgpus[i].parent, parent) == 0)
            return &s->vgpus[i];
    return NULL;
}

/* Save s after a change already made on the host: if that fails, the host and the record differ,
 * and the message says what the record lacks. */
static int save(const struct gvh_ctx *c, const struct gvh_state *s, const char *done,
                struct gv_error *err)
{
    int rc = gvh_state_save(c, s, err);
    if (rc < 0)
        gv_error_prefix(err, rc,
                        "%s, but the record of it could not be saved (apply will not "
                        "redo it)",
                        done);
    return rc;
}

static json_t *object_or_null(json_t *j, int *rc, struct gv_error *err)
{
    if (!j)
        *rc = gv_error_set(err, -ENOMEM, "out of memory");
    return j;
}

/* {key: value}, taking value (freed when that fails too). */
static json_t *wrap(const char *key, json_t *value)
{
    json_t *o = json_object();
    if (!o) {
        json_decref(value);
        return NULL;
    }
    if (json_object_set_new(o, key, value) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int do_list(const struct gvh_ctx *c, json_t **doc, struct gv_error *err)
{
    struct gvh_gpu *g = NULL;
    size_t n = 0;
    int rc = gvh_list(c, &g, &n, err);
    if (rc < 0)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, gvh_gpu_json(&g[i])) < 0)
            rc = -ENOMEM;
    gvh_gpus_free(g, n);
    if (rc < 0) {
        json_decref(a);
        a = NULL;
    }
    *doc = a ? wrap("gpus", a) : NULL;
    return *doc ? 0 : gv_error_set(err, -ENOMEM, "out of memory");
}

static int do_types(const struct gvh_ctx *c, const char *bdf, json_t **doc, struct gv_error *err)
{
    struct gvh_type *t = NULL;
    size_t n = 0;
    int rc = gvh_types(c, bdf, &t, &n, err);
    if (rc < 0)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, gvh_type_json(&t[i])) < 0)
            rc = -ENOMEM;
    free(t);
    if (rc < 0) {
        json_decref(a);
        a = NULL;
    }
    *doc = a ? wrap("types", a) : NULL;
    return *doc ? 0 : gv_error_set(err, -ENOMEM, "out of memory");
}

static int do_passthrough(const struct gvh_ctx *c, struct gvh_state *s, const char *bdf,
                          json_t **doc, struct gv_error *err)
{
    /* vGPUs on it, recorded or made by another tool: the GPU cannot also go whole to a VM. */
    const struct gvh_vgpu *v = vgpu_on(s, bdf);
    struct gvh_gpu g;
    unsigned live = 0;
    if (gvh_gpu_get(c, bdf, &g, NULL) == 0) {
        live = g.mdevs + g.sriov_vgpus;
        gvh_gpu_clear(&g);
    }
    if (v || live)
        return gv_error_set(err, -EBUSY,
                            "%s has vGPUs (%s): a GPU goes to VMs whole or as vGPUs, not both; "
                            "remove them first (gpuvisor host remove ID)",
                            bdf, v ? v->id : "see gpuvisor host list");
    struct gvh_passthrough rec;
    memset(&rec, 0, sizeof(rec));
    int rc = gvh_passthrough(c, bdf, &rec, err);
    if (rc < 0 || c->dry_run)
        return rc;
    /* Passed through before: the record has the drivers it had then; the device shows vfio-pci. */
    const struct gvh_passthrough *old = find_pt(s, bdf);
    if (old)
        rec = *old;
    else if ((rc = gvh_state_put_passthrough(s, &rec)) < 0)
        return gv_error_set(err, rc, "out of memory");
    if (!old && (rc = save(c, s, "bound to vfio-pci", err)) < 0)
        return rc;
    *doc = object_or_null(gvh_passthrough_json(&rec), &rc, err);
    return rc;
}

static int do_release(const struct gvh_ctx *c, struct gvh_state *s, const char *bdf, json_t **doc,
                      struct gv_error *err)
{
    struct gvh_passthrough rec;
    memset(&rec, 0, sizeof(rec));
    const struct gvh_passthrough *old = find_pt(s, bdf);
    int rc;
    if (old) {
        rec = *old;
    } else {
        /* No record (passed through by hand, or by another tool): on vfio-pci, the functions go
         * to the drivers the kernel picks for them; otherwise there is nothing to release. */
        struct gvh_gpu g;
        if ((rc = gvh_gpu_get(c, bdf, &g, err)) < 0)
            return rc;
        bool on_vfio = strcmp(g.driver, "vfio-pci") == 0;
        if (on_vfio) {
            snprintf(rec.gpu, sizeof(rec.gpu), "%s", g.bdf);
            rec.iommu_group = g.iommu_group;
            snprintf(rec.fn[0].bdf, sizeof(rec.fn[0].bdf), "%s", g.bdf);
            rec.nfn = 1;
            for (size_t i = 0; i < g.nmembers && rec.nfn < GVH_MAX_FUNCS; i++)
                if (g.members[i].role == GVH_ROLE_FUNCTION)
                    snprintf(rec.fn[rec.nfn++].bdf, sizeof(rec.fn[0].bdf), "%s", g.members[i].bdf);
            fprintf(stderr,
                    "gpuvisor: %s: no record of the drivers it had in %s%s" STATE_FILE
                    ": its functions go to the drivers the kernel picks\n",
                    bdf, c->config_root,
                    c->config_root[strlen(c->config_root) - 1] == '/' ? "" : "/");
        } else {
            rc = gv_error_set(err, -ENOENT,
                              "%s is not given to VMs: it is on %s, and there is no record of "
                              "it (see gpuvisor host list)",
                              bdf, g.driver[0] ? g.driver : "no driver");
        }
        gvh_gpu_clear(&g);
        if (!on_vfio)
            return rc;
    }
    if ((rc = gvh_release(c, &rec, err)) < 0 || c->dry_run)
        return rc;
    if (old) {
        gvh_state_remove(s, bdf);
        if ((rc = save(c, s, "released", err)) < 0)
            return rc;
    }
    *doc = object_or_null(wrap("released", json_string(bdf)), &rc, err);
    return rc;
}

static int do_create(const struct gvh_ctx *c, struct gvh_state *s, const struct host_args *a,
                     json_t **doc, struct gv_error *err)
{
    if (find_pt(s, a->bdf))
        return gv_error_set(err, -EBUSY,
                            "%s is given to VMs whole: a GPU goes to VMs whole or as vGPUs, not "
                            "both; release it first (gpuvisor host release %s)",
                            a->bdf, a->bdf);
    struct gvh_vgpu v;
    memset(&v, 0, sizeof(v));
    int rc = gvh_vgpu_create(c, a->bdf, a->type, a->uuid[0] ? a->uuid : NULL, &v, err);
    if (rc < 0 || c->dry_run)
        return rc;
    if ((rc = gvh_state_put_vgpu(s, &v)) < 0)
        return gv_error_set(err, rc, "out of memory");
    char done[96];
    snprintf(done, sizeof(done), "vGPU %s created", v.id);
    if ((rc = save(c, s, done, err)) < 0)
        return rc;
    *doc = object_or_null(gvh_vgpu_json(&v), &rc, err);
    return rc;
}

static int do_remove(const struct gvh_ctx *c, struct gvh_state *s, const char *id, json_t **doc,
                     struct gv_error *err)
{
    struct gvh_vgpu v;
    memset(&v, 0, sizeof(v));
    struct gv_error find_err = {0};
    int rc = gvh_vgpu_find(c, id, &v, &find_err);
    const struct gvh_vgpu *rec = find_vgpu(s, id);
    if (rc == -ENOENT && rec) {
        /* Defined but not there now (a reboot not yet applied): the definition goes. */
        v = *rec;
        if (c->dry_run) {
            fprintf(c->out, "# vGPU %s does not exist now: only its definition is removed\n", id);
            return 0;
        }
        if (!v.sriov && (rc = gvh_mdevctl_remove(c, &v, err)) < 0)
            return rc;
        fprintf(stderr, "gpuvisor: vGPU %s did not exist; its definition is removed\n", id);
    } else if (rc < 0) {
        *err = find_err;
        return rc;
    } else if ((rc = gvh_vgpu_remove(c, &v, err)) < 0 || c->dry_run) {
        return rc;
    }
    if (gvh_state_remove(s, id) == 0 && (rc = save(c, s, "removed", err)) < 0)
        return rc;
    *doc = object_or_null(wrap("removed", json_string(id)), &rc, err);
    return rc;
}

static int do_xml(const struct gvh_ctx *c, const char *id, json_t **doc, struct gv_error *err)
{
    char buf[XML_MAX];
    int rc = gvh_xml(c, id, buf, sizeof(buf), err);
    if (rc < 0)
        return rc;
    *doc = object_or_null(wrap("xml", json_string(buf)), &rc, err);
    return rc;
}

static int do_apply(const struct gvh_ctx *c, const struct gvh_state *s, json_t **doc,
                    struct gv_error *err)
{
    struct gvh_report r;
    memset(&r, 0, sizeof(r));
    int rc = gvh_apply(c, s, &r, err);
    if (c->dry_run)
        return rc;
    *doc = json_pack("{s:I,s:I,s:I,s:s}", "done", (json_int_t)r.done, "already",
                     (json_int_t)r.already, "failed", (json_int_t)r.failed, "report", r.text);
    if (rc < 0 && r.failed)
        gv_error_set(err, rc, "apply: %u of %u definitions failed (see above)", r.failed,
                     r.done + r.already + r.failed);
    return rc;
}

/* The commands that change the host, with the definitions loaded. */
static int change(const struct gvh_ctx *c, struct gvh_state *s, const struct host_args *a,
                  json_t **doc, struct gv_error *err)
{
    switch (a->cmd) {
    case HOST_PASSTHROUGH:
        return do_passthrough(c, s, a->bdf, doc, err);
    case HOST_RELEASE:
        return do_release(c, s, a->bdf, doc, err);
    case HOST_CREATE:
        return do_create(c, s, a, doc, err);
    case HOST_REMOVE:
        return do_remove(c, s, a->id, doc, err);
    case HOST_APPLY:
        return do_apply(c, s, doc, err);
    default:
        return gv_error_set(err, -EINVAL, "host %s: changes nothing", a->name);
    }
}

int host_local(const struct host_args *a, json_t **doc, struct gv_error *err)
{
    struct gvh_ctx c;
    gvh_ctx_init(&c, a->sysfs_root, a->config_root);
    c.dry_run = a->dry_run;
    c.out = stdout;
    *doc = NULL;
    /* --json: the plan is taken as it is printed, and answered as the daemon answers. */
    char *plan = NULL;
    size_t plan_len = 0;
    if (a->dry_run && a->conn.json && !(c.out = open_memstream(&plan, &plan_len))) {
        gv_error_set(err, -ENOMEM, "out of memory");
        return CLI_EXIT_INTERNAL;
    }

    int rc = 0;
    switch (a->cmd) {
    case HOST_LIST:
        rc = do_list(&c, doc, err);
        break;
    case HOST_TYPES:
        rc = do_types(&c, a->bdf, doc, err);
        break;
    case HOST_XML:
        rc = do_xml(&c, a->id, doc, err);
        break;
    default: {
        struct gvh_state s;
        memset(&s, 0, sizeof(s));
        rc = gvh_state_load(&c, &s, err);
        if (rc == 0)
            rc = change(&c, &s, a, doc, err);
        gvh_state_free(&s);
    }
    }
    if (c.out != stdout) {
        fclose(c.out);
        if (rc == 0 && !(*doc = gvh_plan_json(plan)))
            rc = gv_error_set(err, -ENOMEM, "out of memory");
        free(plan);
    }
    return rc < 0 ? status_of(rc) : CLI_EXIT_OK;
}
