/* SPDX-License-Identifier: Apache-2.0 */
/* host_show.c: the answers of `gpuvisor host` for people.
 *
 * Both ways of running the commands answer with the same JSON (the host library's forms, which the
 * daemon's API returns too), so one renderer per command serves both. `create` prints the vGPU's
 * id alone and `xml` the elements alone, so that scripts can take them as they come; a dry run
 * prints the writes in the library's own plan form, `write PATH VALUE`, then its notes ("# ...").
 */
#include <stdio.h>
#include <string.h>

#include "cli/host_cli.h"

/* Append text to buf (a cell), separated by sep when buf is not empty; truncates quietly. */
static void add(char *buf, size_t len, const char *sep, const char *text)
{
    size_t at = strlen(buf);
    snprintf(buf + at, len - at, "%s%s", at ? sep : "", text);
}

static long long num(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

/* The group's other members: "0000:41:00.1 snd_hda_intel", a bridge or a foreign device marked. */
static const char *members(const json_t *g, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t i;
    const json_t *m;
    json_array_foreach(json_object_get(g, "group"), i, m)
    {
        char one[GVH_BDF_LEN + GVH_NAME_LEN + 32];
        const char *drv = json_string_value(json_object_get(m, "driver"));
        const char *role = json_string_value(json_object_get(m, "role"));
        snprintf(one, sizeof(one), "%s %s%s%s%s", cli_field_str(m, "pci"),
                 drv && *drv ? drv : "(no driver)", role && strcmp(role, "function") ? " (" : "",
                 role && strcmp(role, "function") ? role : "",
                 role && strcmp(role, "function") ? ")" : "");
        add(buf, len, ", ", one);
    }
    return buf[0] ? buf : "-";
}

/* What vGPUs the GPU can carry: "mdev: 4 types, 1 made", "SR-IOV: 2/16 VFs, 1 vGPU". */
static const char *capability(const json_t *v, char *buf, size_t len)
{
    buf[0] = '\0';
    char one[96];
    if (num(v, "mdev_types") > 0) {
        snprintf(one, sizeof(one), "mdev: %lld types, %lld made", num(v, "mdev_types"),
                 num(v, "mdevs"));
        add(buf, len, "; ", one);
    }
    if (num(v, "sriov_total") > 0) {
        snprintf(one, sizeof(one), "SR-IOV: %lld/%lld VFs, %lld vGPUs", num(v, "sriov_vfs"),
                 num(v, "sriov_total"), num(v, "sriov_vgpus"));
        add(buf, len, "; ", one);
    }
    return buf[0] ? buf : "-";
}

/* "10de:2335" from the JSON's "0x10de" and "0x2335". */
static const char *ids(const json_t *g, char *buf, size_t len)
{
    const char *v = json_string_value(json_object_get(g, "vendor"));
    const char *d = json_string_value(json_object_get(g, "device"));
    snprintf(buf, len, "%s:%s",
             v && !strncmp(v, "0x", 2) ? v + 2
             : v                       ? v
                                       : "?",
             d && !strncmp(d, "0x", 2) ? d + 2
             : d                       ? d
                                       : "?");
    return buf;
}

static void show_gpus(const json_t *doc, FILE *out)
{
    static const char *const head[] = {"ADDRESS", "IDS",           "MODEL", "DRIVER",
                                       "GROUP",   "OTHER MEMBERS", "MODE",  "VGPU"};
    struct cli_table t;
    cli_table_init(&t, 8, head, "llllrlll");
    size_t i;
    const json_t *g;
    json_array_foreach(json_object_get(doc, "gpus"), i, g)
    {
        char id[32], group[16], mem[1024], cap[160];
        const json_t *grp = json_object_get(g, "iommu_group");
        if (json_is_integer(grp) && json_integer_value(grp) >= 0)
            snprintf(group, sizeof(group), "%lld", json_integer_value(grp));
        else
            snprintf(group, sizeof(group), "none");
        const char *drv = json_string_value(json_object_get(g, "driver"));
        const char *model = json_string_value(json_object_get(g, "model"));
        const char *row[] = {
            cli_field_str(g, "pci"),
            ids(g, id, sizeof(id)),
            model && *model ? model : "-",
            drv && *drv ? drv : "-",
            group,
            members(g, mem, sizeof(mem)),
            cli_field_str(g, "mode"),
            capability(json_object_get(g, "vgpu"), cap, sizeof(cap)),
        };
        cli_table_row(&t, row);
    }
    if (t.nrow == 0)
        fprintf(out, "No GPUs found (PCI class 03).\n");
    else
        cli_table_print(&t, out);
    cli_table_free(&t);
}

static void show_types(const json_t *doc, const struct host_args *a, FILE *out)
{
    static const char *const head[] = {"TYPE", "NAME", "FRAME BUFFER", "AVAILABLE"};
    struct cli_table t;
    cli_table_init(&t, 4, head, "llrr");
    size_t i;
    const json_t *ty;
    json_array_foreach(json_object_get(doc, "types"), i, ty)
    {
        char fb[32], avail[16];
        const json_t *f = json_object_get(ty, "framebuffer");
        const char *row[] = {
            cli_field_str(ty, "id"),
            cli_field_str(ty, "name"),
            json_integer_value(f) > 0 ? cli_field_size(ty, "framebuffer", fb, sizeof(fb)) : "-",
            cli_field_int(ty, "available", avail, sizeof(avail)),
        };
        cli_table_row(&t, row);
    }
    if (t.nrow == 0)
        fprintf(out, "%s offers no vGPU types.\n", a->bdf);
    else
        cli_table_print(&t, out);
    cli_table_free(&t);
}

/* "0000:41:00.0, 0000:41:00.1 on vfio-pci (IOMMU group 12); they were on nvidia, snd_hda_intel". */
static void show_passthrough(const json_t *doc, FILE *out)
{
    char fns[512] = "", was[512] = "";
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(doc, "functions"), i, f)
    {
        const char *drv = json_string_value(json_object_get(f, "driver"));
        add(fns, sizeof(fns), ", ", cli_field_str(f, "pci"));
        add(was, sizeof(was), ", ", drv && *drv ? drv : "none recorded");
    }
    fprintf(out, "%s on vfio-pci (IOMMU group %lld), for VMs; their drivers were: %s.\n",
            fns[0] ? fns : cli_field_str(doc, "pci"), num(doc, "iommu_group"), was[0] ? was : "-");
    fprintf(out, "Attach it with the XML of: gpuvisor host xml %s\n", cli_field_str(doc, "pci"));
}

static void show_writes(const json_t *doc, FILE *out)
{
    size_t i;
    const json_t *w;
    json_array_foreach(json_object_get(doc, "writes"), i, w)
    {
        const char *v = json_string_value(json_object_get(w, "value"));
        fprintf(out, "write %s %s\n", cli_field_str(w, "path"), v && *v ? v : "\"\"");
    }
    json_array_foreach(json_object_get(doc, "notes"), i, w)
        fprintf(out, "# %s\n", json_string_value(w) ? json_string_value(w) : "");
}

void host_show(const struct host_args *a, const json_t *doc, FILE *out)
{
    if (json_is_true(json_object_get(doc, "dry_run"))) {
        show_writes(doc, out);
        return;
    }
    const char *xml;
    size_t n;
    switch (a->cmd) {
    case HOST_LIST:
        show_gpus(doc, out);
        break;
    case HOST_TYPES:
        show_types(doc, a, out);
        break;
    case HOST_PASSTHROUGH:
        show_passthrough(doc, out);
        break;
    case HOST_RELEASE:
        fprintf(out, "Released %s: its functions are back on their drivers.\n",
                cli_field_str(doc, "released"));
        break;
    case HOST_CREATE:
        fprintf(out, "%s\n", cli_field_str(doc, "id"));
        break;
    case HOST_REMOVE:
        fprintf(out, "Removed vGPU %s.\n", cli_field_str(doc, "removed"));
        break;
    case HOST_XML:
        xml = cli_field_str(doc, "xml");
        n = strlen(xml);
        fprintf(out, "%s%s", xml, n && xml[n - 1] == '\n' ? "" : "\n");
        break;
    case HOST_APPLY:
        xml = cli_field_str(doc, "report");
        n = strlen(xml);
        if (strcmp(xml, "-") != 0)
            fprintf(out, "%s%s", xml, n && xml[n - 1] == '\n' ? "" : "\n");
        fprintf(out, "apply: %lld done, %lld already in place, %lld failed.\n", num(doc, "done"),
                num(doc, "already"), num(doc, "failed"));
        break;
    }
}
