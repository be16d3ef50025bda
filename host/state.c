/* SPDX-License-Identifier: Apache-2.0 */
/* state.c: the definitions of what the host should have (passthrough bindings, vGPUs), their
 * one JSON form, the standalone state file, and mdevctl's files.
 *
 * The same JSON is the state file, what gpuvisord keeps in its database and what its API answers,
 * so a definition reads the same wherever it is kept. mdevctl keeps each mdev in
 * /etc/mdevctl.d/<parent>/<uuid> ({"mdev_type", "start", "attrs"}); gpuvisor writes that file with
 * each mdev it makes and reads the ones it finds, so a host managed with mdevctl moves over without
 * re-creating anything, and mdevctl still knows the mdevs gpuvisor made. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/internal.h"

#define STATE_FILE   "/var/lib/gpuvisor/host.json"
#define MDEVCTL_DIR  "/etc/mdevctl.d"
#define STATE_VERSION 1

/* --- JSON forms */

json_t *gvh_passthrough_json(const struct gvh_passthrough *p)
{
    json_t *fns = json_array();
    for (size_t i = 0; i < p->nfn; i++)
        json_array_append_new(fns, json_pack("{ss so}", "pci", p->fn[i].bdf, "driver",
                                             p->fn[i].driver[0] ? json_string(p->fn[i].driver)
                                                                : json_null()));
    return json_pack("{ss so so}", "pci", p->gpu, "iommu_group",
                     p->iommu_group >= 0 ? json_integer(p->iommu_group) : json_null(),
                     "functions", fns);
}

static int get_str(const json_t *j, const char *key, bool need, char *out, size_t len,
                   struct gv_error *err)
{
    const json_t *v = json_object_get(j, key);
    out[0] = 0;
    if (!v || json_is_null(v)) {
        if (need)
            return gv_error_set(err, -EINVAL, "\"%s\" is missing", key);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= len)
        return gv_error_set(err, -EINVAL, "\"%s\" must be a string of under %zu characters", key,
                            len);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int gvh_passthrough_from_json(const json_t *j, struct gvh_passthrough *p, struct gv_error *err)
{
    memset(p, 0, sizeof(*p));
    p->iommu_group = -1;
    char text[GVH_NAME_LEN];
    int rc;
    if (!json_is_object(j))
        return gv_error_set(err, -EINVAL, "a passthrough record must be an object");
    if ((rc = get_str(j, "pci", true, text, sizeof(text), err)) != 0 ||
        (rc = gvh_bdf_parse(text, p->gpu, err)) != 0)
        return rc;
    const json_t *g = json_object_get(j, "iommu_group");
    if (json_is_integer(g) && json_integer_value(g) >= 0 && json_integer_value(g) <= 1 << 30)
        p->iommu_group = (int)json_integer_value(g);
    const json_t *fns = json_object_get(j, "functions");
    if (!json_is_array(fns) || json_array_size(fns) == 0 ||
        json_array_size(fns) > GVH_MAX_FUNCS)
        return gv_error_set(err, -EINVAL, "%s: \"functions\" must list 1 to %d functions",
                            p->gpu, GVH_MAX_FUNCS);
    size_t i;
    const json_t *f;
    json_array_foreach(fns, i, f)
    {
        if ((rc = get_str(f, "pci", true, text, sizeof(text), err)) != 0 ||
            (rc = gvh_bdf_parse(text, p->fn[i].bdf, err)) != 0 ||
            (rc = get_str(f, "driver", false, p->fn[i].driver, sizeof(p->fn[i].driver), err)) !=
                0)
            return gv_error_prefix(err, rc, "%s: function %zu", p->gpu, i);
    }
    p->nfn = json_array_size(fns);
    if (strcmp(p->fn[0].bdf, p->gpu) != 0)
        return gv_error_set(err, -EINVAL, "%s: the first function must be the GPU itself", p->gpu);
    return 0;
}

json_t *gvh_vgpu_json(const struct gvh_vgpu *v)
{
    json_t *j = json_pack("{ss ss ss ss ss ss}", "id", v->id, "parent", v->parent, "type", v->type,
                          "type_name", v->type_name, "kind", v->sriov ? "sriov" : "mdev", "start",
                          v->start_auto ? "auto" : "manual");
    if (v->sriov)
        json_object_set_new(j, "numvfs", json_integer(v->numvfs));
    return j;
}

int gvh_vgpu_from_json(const json_t *j, struct gvh_vgpu *v, struct gv_error *err)
{
    memset(v, 0, sizeof(*v));
    char text[GVH_NAME_LEN], kind[16], start[16];
    int rc;
    if (!json_is_object(j))
        return gv_error_set(err, -EINVAL, "a vGPU record must be an object");
    if ((rc = get_str(j, "kind", true, kind, sizeof(kind), err)) != 0)
        return rc;
    if (strcmp(kind, "mdev") != 0 && strcmp(kind, "sriov") != 0)
        return gv_error_set(err, -EINVAL, "\"kind\" must be mdev or sriov, not \"%s\"", kind);
    v->sriov = kind[0] == 's';
    if ((rc = get_str(j, "id", true, text, sizeof(text), err)) != 0 ||
        (rc = v->sriov ? gvh_bdf_parse(text, v->id, err) : gvh_uuid_parse(text, v->id, err)) != 0)
        return rc;
    if ((rc = get_str(j, "parent", true, text, sizeof(text), err)) != 0 ||
        (rc = gvh_bdf_parse(text, v->parent, err)) != 0 ||
        (rc = get_str(j, "type", true, v->type, sizeof(v->type), err)) != 0 ||
        (rc = get_str(j, "type_name", false, v->type_name, sizeof(v->type_name), err)) != 0 ||
        (rc = get_str(j, "start", false, start, sizeof(start), err)) != 0)
        return gv_error_prefix(err, rc, "vGPU %s", v->id);
    if (!v->type[0])
        return gv_error_set(err, -EINVAL, "vGPU %s: \"type\" is empty", v->id);
    if (start[0] && strcmp(start, "auto") != 0 && strcmp(start, "manual") != 0)
        return gv_error_set(err, -EINVAL, "vGPU %s: \"start\" must be auto or manual", v->id);
    v->start_auto = strcmp(start, "manual") != 0;
    const json_t *n = json_object_get(j, "numvfs");
    if (json_is_integer(n) && json_integer_value(n) >= 0 && json_integer_value(n) <= 4096)
        v->numvfs = (unsigned)json_integer_value(n);
    return 0;
}

json_t *gvh_gpu_json(const struct gvh_gpu *g)
{
    char vendor[8], device[8], class_code[12], sv[8], sd[8];
    snprintf(vendor, sizeof(vendor), "0x%04x", g->vendor);
    snprintf(device, sizeof(device), "0x%04x", g->device);
    snprintf(sv, sizeof(sv), "0x%04x", g->subsystem_vendor);
    snprintf(sd, sizeof(sd), "0x%04x", g->subsystem_device);
    snprintf(class_code, sizeof(class_code), "0x%06x", g->class_code);
    json_t *members = json_array();
    for (size_t i = 0; i < g->nmembers; i++) {
        const struct gvh_member *m = &g->members[i];
        char mv[8], md[8], mc[12];
        snprintf(mv, sizeof(mv), "0x%04x", m->vendor);
        snprintf(md, sizeof(md), "0x%04x", m->device);
        snprintf(mc, sizeof(mc), "0x%06x", m->class_code);
        json_array_append_new(members,
                              json_pack("{ss ss ss ss so ss}", "pci", m->bdf, "vendor", mv,
                                        "device", md, "class", mc, "driver",
                                        m->driver[0] ? json_string(m->driver) : json_null(),
                                        "role", gvh_role_name(m->role)));
    }
    return json_pack(
        "{ss ss ss ss ss ss so so so so ss s{si si si si si}}", "pci", g->bdf, "vendor", vendor,
        "device", device, "subsystem_vendor", sv, "subsystem_device", sd, "class", class_code,
        "model", g->model[0] ? json_string(g->model) : json_null(), "driver",
        g->driver[0] ? json_string(g->driver) : json_null(), "iommu_group",
        g->iommu_group >= 0 ? json_integer(g->iommu_group) : json_null(), "group", members, "mode",
        gvh_mode_name(g->mode), "vgpu", "mdev_types", (int)g->mdev_types, "mdevs", (int)g->mdevs,
        "sriov_total", (int)g->sriov_total, "sriov_vfs", (int)g->sriov_vfs, "sriov_vgpus",
        (int)g->sriov_vgpus);
}

json_t *gvh_type_json(const struct gvh_type *t)
{
    return json_pack("{ss ss ss sI si ss}", "id", t->id, "name", t->name, "description",
                     t->description, "framebuffer", (json_int_t)t->framebuffer, "available",
                     (int)t->available, "kind", t->sriov ? "sriov" : "mdev");
}

/* --- The state in memory */

void gvh_state_free(struct gvh_state *s)
{
    free(s->pt);
    free(s->vgpus);
    memset(s, 0, sizeof(*s));
}

int gvh_state_put_passthrough(struct gvh_state *s, const struct gvh_passthrough *p)
{
    for (size_t i = 0; i < s->npt; i++)
        if (strcmp(s->pt[i].gpu, p->gpu) == 0) {
            s->pt[i] = *p;
            return 0;
        }
    struct gvh_passthrough *n = realloc(s->pt, (s->npt + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    s->pt = n;
    s->pt[s->npt++] = *p;
    return 0;
}

int gvh_state_put_vgpu(struct gvh_state *s, const struct gvh_vgpu *v)
{
    for (size_t i = 0; i < s->nvgpus; i++)
        if (strcmp(s->vgpus[i].id, v->id) == 0) {
            s->vgpus[i] = *v;
            return 0;
        }
    struct gvh_vgpu *n = realloc(s->vgpus, (s->nvgpus + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    s->vgpus = n;
    s->vgpus[s->nvgpus++] = *v;
    return 0;
}

int gvh_state_remove(struct gvh_state *s, const char *id)
{
    for (size_t i = 0; i < s->npt; i++)
        if (strcmp(s->pt[i].gpu, id) == 0) {
            memmove(&s->pt[i], &s->pt[i + 1], (s->npt - i - 1) * sizeof(*s->pt));
            s->npt--;
            return 0;
        }
    for (size_t i = 0; i < s->nvgpus; i++)
        if (strcmp(s->vgpus[i].id, id) == 0) {
            memmove(&s->vgpus[i], &s->vgpus[i + 1], (s->nvgpus - i - 1) * sizeof(*s->vgpus));
            s->nvgpus--;
            return 0;
        }
    return -ENOENT;
}

json_t *gvh_state_json(const struct gvh_state *s)
{
    json_t *pt = json_array(), *vg = json_array();
    for (size_t i = 0; i < s->npt; i++)
        json_array_append_new(pt, gvh_passthrough_json(&s->pt[i]));
    for (size_t i = 0; i < s->nvgpus; i++)
        json_array_append_new(vg, gvh_vgpu_json(&s->vgpus[i]));
    return json_pack("{si so so}", "version", STATE_VERSION, "passthrough", pt, "vgpus", vg);
}

int gvh_state_from_json(const json_t *j, struct gvh_state *s, struct gv_error *err)
{
    memset(s, 0, sizeof(*s));
    if (!json_is_object(j))
        return gv_error_set(err, -EINVAL, "the host state must be a JSON object");
    const json_t *ver = json_object_get(j, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != STATE_VERSION)
        return gv_error_set(err, -EINVAL, "the host state's \"version\" must be %d", STATE_VERSION);
    const json_t *pt = json_object_get(j, "passthrough"), *vg = json_object_get(j, "vgpus");
    if ((pt && !json_is_array(pt)) || (vg && !json_is_array(vg)))
        return gv_error_set(err, -EINVAL, "\"passthrough\" and \"vgpus\" must be arrays");
    size_t i;
    const json_t *e;
    int rc = 0;
    json_array_foreach(pt, i, e)
    {
        struct gvh_passthrough p;
        if ((rc = gvh_passthrough_from_json(e, &p, err)) != 0 ||
            (rc = gvh_state_put_passthrough(s, &p)) != 0)
            break;
    }
    if (!rc)
        json_array_foreach(vg, i, e)
        {
            struct gvh_vgpu v;
            if ((rc = gvh_vgpu_from_json(e, &v, err)) != 0 || (rc = gvh_state_put_vgpu(s, &v)) != 0)
                break;
        }
    if (rc) {
        gvh_state_free(s);
        if (rc == -ENOMEM)
            gv_error_set(err, rc, "out of memory reading the host state");
    }
    return rc;
}

/* --- mdevctl */

static int mkdirs(char *path, mode_t mode)
{
    /* Every folder of path, made as needed (path is modified and restored). */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, mode) == 0 || errno == EEXIST ? 0 : -errno;
        *p = '/';
        if (rc)
            return rc;
    }
    return mkdir(path, mode) == 0 || errno == EEXIST ? 0 : -errno;
}

/* Write text to path through a temporary file and a rename, so a crash leaves the old or the new. */
static int write_atomic(const char *path, const char *text, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text), at = 0;
    int rc = 0;
    while (at < len && rc == 0) {
        ssize_t k = write(fd, text + at, len - at);
        if (k < 0 && errno != EINTR)
            rc = -errno;
        else if (k > 0)
            at += (size_t)k;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

int gvh_mdevctl_write(const struct gvh_ctx *c, const struct gvh_vgpu *v, struct gv_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (gvh_cpath(c, dir, sizeof(dir), MDEVCTL_DIR "/%s", v->parent) != 0 ||
        gvh_cpath(c, path, sizeof(path), MDEVCTL_DIR "/%s/%s", v->parent, v->id) != 0)
        return gv_error_set(err, -ENAMETOOLONG, "the config root is too long");
    int rc = mkdirs(dir, 0755);
    if (rc)
        return gv_error_set(err, rc, "%s cannot be made: %s", dir, strerror(-rc));
    json_t *j = json_pack("{ss ss s[]}", "mdev_type", v->type, "start",
                          v->start_auto ? "auto" : "manual", "attrs");
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text)
        return gv_error_set(err, -ENOMEM, "out of memory writing %s", path);
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return gv_error_set(err, -ENOMEM, "out of memory writing %s", path);
    }
    memcpy(line + n, "\n", 2);
    rc = write_atomic(path, line, 0644);
    free(line);
    return rc ? gv_error_set(err, rc, "%s cannot be written: %s", path, strerror(-rc)) : 0;
}

int gvh_mdevctl_remove(const struct gvh_ctx *c, const struct gvh_vgpu *v, struct gv_error *err)
{
    char path[PATH_MAX];
    if (gvh_cpath(c, path, sizeof(path), MDEVCTL_DIR "/%s/%s", v->parent, v->id) != 0)
        return gv_error_set(err, -ENAMETOOLONG, "the config root is too long");
    if (unlink(path) != 0 && errno != ENOENT)
        return gv_error_set(err, -errno, "%s cannot be removed: %s", path, strerror(errno));
    return 0;
}

/* mdevctl's definitions not yet in s. A definition that does not parse is skipped with a line on
 * stderr: one bad file must not hide the others. */
static int read_mdevctl(const struct gvh_ctx *c, struct gvh_state *s)
{
    char top[PATH_MAX];
    if (gvh_cpath(c, top, sizeof(top), MDEVCTL_DIR) != 0)
        return -ENAMETOOLONG;
    DIR *d = opendir(top);
    if (!d)
        return 0;
    struct dirent *pe;
    int rc = 0;
    while (rc == 0 && (pe = readdir(d)) != NULL) {
        char parent[GVH_BDF_LEN], sub[PATH_MAX];
        if (pe->d_name[0] == '.' || gvh_bdf_parse(pe->d_name, parent, NULL) != 0 ||
            snprintf(sub, sizeof(sub), "%s/%s", top, pe->d_name) >= (int)sizeof(sub))
            continue;
        DIR *sd = opendir(sub);
        struct dirent *ue;
        while (rc == 0 && sd && (ue = readdir(sd)) != NULL) {
            struct gvh_vgpu v = {0};
            char file[PATH_MAX];
            if (ue->d_name[0] == '.' || gvh_uuid_parse(ue->d_name, v.id, NULL) != 0 ||
                snprintf(file, sizeof(file), "%s/%s", sub, ue->d_name) >= (int)sizeof(file))
                continue;
            bool known = false;
            for (size_t i = 0; i < s->nvgpus && !known; i++)
                known = strcmp(s->vgpus[i].id, v.id) == 0;
            if (known)
                continue;
            json_error_t je;
            json_t *j = json_load_file(file, 0, &je);
            const char *type = json_string_value(json_object_get(j, "mdev_type"));
            const char *start = json_string_value(json_object_get(j, "start"));
            if (!type || !*type || strlen(type) >= sizeof(v.type)) {
                fprintf(stderr, "gpuvisor: %s: not an mdevctl definition (no \"mdev_type\"): "
                                "skipped\n",
                        file);
                json_decref(j);
                continue;
            }
            snprintf(v.parent, sizeof(v.parent), "%s", parent);
            snprintf(v.type, sizeof(v.type), "%s", type);
            v.start_auto = !start || strcmp(start, "auto") == 0;
            json_decref(j);
            rc = gvh_state_put_vgpu(s, &v);
        }
        if (sd)
            closedir(sd);
    }
    closedir(d);
    return rc;
}

int gvh_state_load(const struct gvh_ctx *c, struct gvh_state *s, struct gv_error *err)
{
    memset(s, 0, sizeof(*s));
    char path[PATH_MAX];
    if (gvh_cpath(c, path, sizeof(path), STATE_FILE) != 0)
        return gv_error_set(err, -ENAMETOOLONG, "the config root is too long");
    if (access(path, F_OK) == 0) {
        json_error_t je;
        json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!j)
            return gv_error_set(err, -EINVAL, "%s: not JSON (line %d: %s); nothing was changed",
                                path, je.line, je.text);
        int rc = gvh_state_from_json(j, s, err);
        json_decref(j);
        if (rc)
            return gv_error_prefix(err, rc, "%s", path);
    } else if (errno != ENOENT) {
        return gv_error_set(err, -errno, "%s cannot be read: %s", path, strerror(errno));
    }
    int rc = read_mdevctl(c, s);
    if (rc) {
        gvh_state_free(s);
        return gv_error_set(err, rc, "mdevctl definitions cannot be read: %s", strerror(-rc));
    }
    return 0;
}

int gvh_state_save(const struct gvh_ctx *c, const struct gvh_state *s, struct gv_error *err)
{
    char path[PATH_MAX], dir[PATH_MAX];
    if (gvh_cpath(c, path, sizeof(path), STATE_FILE) != 0 ||
        gvh_cpath(c, dir, sizeof(dir), "/var/lib/gpuvisor") != 0)
        return gv_error_set(err, -ENAMETOOLONG, "the config root is too long");
    int rc = mkdirs(dir, 0755);
    if (rc)
        return gv_error_set(err, rc, "%s cannot be made: %s", dir, strerror(-rc));
    json_t *j = gvh_state_json(s);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text)
        return gv_error_set(err, -ENOMEM, "out of memory writing %s", path);
    rc = write_atomic(path, text, 0644);
    free(text);
    return rc ? gv_error_set(err, rc, "%s cannot be written: %s", path, strerror(-rc)) : 0;
}
