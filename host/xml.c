/* SPDX-License-Identifier: Apache-2.0 */
/* xml.c: the libvirt <hostdev> elements that give a GPU, a VF or an mdev to a guest.
 *
 * A whole GPU goes with every function of its slot that shares its IOMMU group (the audio
 * function above all), one element each, managed='yes' so that libvirt detaches and re-attaches
 * them around the guest's life. A VF is a plain PCI device; an mdev is named by its UUID. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "host/internal.h"

struct out {
    char *buf;
    size_t len, at;
    bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o->buf + o->at, o->len - o->at, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= o->len - o->at)
        o->full = true;
    else
        o->at += (size_t)k;
}

static void pci_hostdev(struct out *o, const char *bdf)
{
    /* bdf is canonical: dddd:bb:ss.f */
    put(o,
        "<hostdev mode='subsystem' type='pci' managed='yes'>\n"
        "  <driver name='vfio'/>\n"
        "  <source>\n"
        "    <address domain='0x%.4s' bus='0x%.2s' slot='0x%.2s' function='0x%c'/>\n"
        "  </source>\n"
        "</hostdev>\n",
        bdf, bdf + 5, bdf + 8, bdf[11]);
}

int gvh_xml(const struct gvh_ctx *c, const char *id, char *buf, size_t len, struct gv_error *err)
{
    struct out o = {buf, len, 0, len == 0};
    if (len)
        buf[0] = 0;
    char canon[GVH_ID_LEN];
    if (gvh_uuid_parse(id, canon, NULL) == 0) {
        if (!gvh_exists(c, "/sys/bus/mdev/devices/%s", canon))
            return gv_error_set(err, -ENOENT,
                                "no mdev %s on this host (gpuvisor host create makes one; after a "
                                "reboot, gpuvisor host apply)",
                                canon);
        put(&o,
            "<hostdev mode='subsystem' type='mdev' model='vfio-pci' display='off'>\n"
            "  <source>\n"
            "    <address uuid='%s'/>\n"
            "  </source>\n"
            "</hostdev>\n",
            canon);
    } else {
        char bdf[GVH_BDF_LEN];
        int rc = gvh_bdf_parse(id, bdf, NULL);
        if (rc)
            return gv_error_set(err, -EINVAL,
                                "\"%.40s\": name a GPU or a VF by its PCI address, or an mdev by "
                                "its UUID",
                                id);
        if (!gvh_exists(c, "/sys/bus/pci/devices/%s", bdf))
            return gv_error_set(err, -ENODEV, "no PCI device at %s", bdf);
        if (gvh_exists(c, "/sys/bus/pci/devices/%s/physfn", bdf)) {
            pci_hostdev(&o, bdf);
        } else {
            struct gvh_gpu g;
            if ((rc = gvh_gpu_get(c, bdf, &g, err)) != 0)
                return rc;
            char fns[GVH_MAX_FUNCS][GVH_BDF_LEN];
            size_t n;
            rc = gvh_gpu_functions(&g, fns, &n);
            gvh_gpu_clear(&g);
            if (rc)
                return gv_error_set(err, -EINVAL, "%s has more than %d functions in its slot",
                                    bdf, GVH_MAX_FUNCS);
            for (size_t i = 0; i < n; i++)
                pci_hostdev(&o, fns[i]);
        }
    }
    if (o.full)
        return gv_error_set(err, -ENOSPC, "the XML for %.40s does not fit in %zu bytes", id, len);
    return (int)o.at;
}
