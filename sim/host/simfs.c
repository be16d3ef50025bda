/* SPDX-License-Identifier: Apache-2.0 */
/* simfs.c: files, links and PCI functions of the fake sysfs tree (see simfs.h). */
#include "sim/host/simfs.h"
#include "sim/host/hostsim.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sim_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return k;
}

int sim_path(char *out, size_t n, const char *root, const char *fmt, ...)
{
    int k = sim_fmt(out, n, "%s/", root);
    if (k < 0 || (size_t)k >= n)
        return -ENAMETOOLONG;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(out + k, n - (size_t)k, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)m >= n - (size_t)k)
        return -ENAMETOOLONG;
    return 0;
}

int sim_mkdirs(const char *path)
{
    char p[PATH_MAX];
    if (sim_fmt(p, sizeof(p), "%s", path) >= (int)sizeof(p))
        return -ENAMETOOLONG;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int mkparent(const char *path)
{
    char p[PATH_MAX];
    sim_fmt(p, sizeof(p), "%s", path);
    char *slash = strrchr(p, '/');
    if (!slash || slash == p)
        return 0;
    *slash = '\0';
    return sim_mkdirs(p);
}

static void (*dir_hook)(void *arg, const char *reldir);
static void *dir_hook_arg;

void gvsim_host_on_writable_dir(void (*fn)(void *arg, const char *reldir), void *arg)
{
    dir_hook = fn;
    dir_hook_arg = arg;
}

int sim_put(const char *root, const char *rel, const char *content, mode_t mode)
{
    static unsigned seq;
    char path[PATH_MAX], tmp[PATH_MAX];
    int rc = sim_path(path, sizeof(path), root, "%s", rel);
    if (rc == 0)
        rc = sim_path(tmp, sizeof(tmp), root, ".sim/tmp.%ld.%u", (long)getpid(), seq++);
    if (rc == 0)
        rc = mkparent(path);
    if (rc == 0)
        rc = mkparent(tmp);
    if (rc < 0)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    size_t len = strlen(content);
    ssize_t w = write(fd, content, len);
    rc = (w < 0) ? -errno : ((size_t)w != len ? -EIO : 0);
    if (fchmod(fd, mode) < 0 && rc == 0)
        rc = -errno;
    close(fd);
    const char *slash = strrchr(rel, '/');
    if (rc == 0 && dir_hook && (mode & S_IWUSR) && slash && strncmp(rel, "sys/", 4) == 0) {
        char dir[PATH_MAX];
        sim_fmt(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
        dir_hook(dir_hook_arg, dir);
    }
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int sim_link(const char *root, const char *rel, const char *target)
{
    char path[PATH_MAX];
    int rc = sim_path(path, sizeof(path), root, "%s", rel);
    if (rc == 0)
        rc = mkparent(path);
    if (rc < 0)
        return rc;
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return symlink(target, path) < 0 ? -errno : 0;
}

int sim_unlink(const char *root, const char *rel)
{
    char path[PATH_MAX];
    int rc = sim_path(path, sizeof(path), root, "%s", rel);
    if (rc < 0)
        return rc;
    return (unlink(path) < 0 && errno != ENOENT) ? -errno : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 ? -1 : 0;
    return unlink(path) < 0 ? -1 : 0;
}

int sim_rm_rf(const char *root, const char *rel)
{
    char path[PATH_MAX];
    int rc = sim_path(path, sizeof(path), root, "%s", rel);
    if (rc < 0)
        return rc;
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) < 0 ? -errno : 0;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

bool sim_exists(const char *root, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    return sim_path(path, sizeof(path), root, "%s", rel) == 0 && lstat(path, &st) == 0;
}

int sim_read(const char *root, const char *rel, char *buf, size_t n)
{
    char path[PATH_MAX];
    int rc = sim_path(path, sizeof(path), root, "%s", rel);
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    return (int)got;
}

void sim_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

bool sim_bdf_ok(const char *text, char out[SIM_BDF_LEN])
{
    unsigned dom, bus, dev, fn;
    char end;
    if (strlen(text) != 12 || sscanf(text, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &end) != 4)
        return false;
    if (text[4] != ':' || text[7] != ':' || text[10] != '.' || dev > 0x1f || fn > 7)
        return false;
    sim_fmt(out, SIM_BDF_LEN, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
    return true;
}

bool sim_uuid_ok(const char *text)
{
    static const unsigned groups[] = {8, 4, 4, 4, 12};
    const char *s = text;
    for (size_t g = 0; g < 5; g++) {
        for (unsigned i = 0; i < groups[g]; i++, s++)
            if (!isxdigit((unsigned char)*s))
                return false;
        if (g < 4 && *s++ != '-')
            return false;
    }
    return *s == '\0';
}

int sim_make_driver(const char *root, const char *name)
{
    static const char *const files[] = {"bind", "unbind", "new_id", "remove_id"};
    char rel[PATH_MAX];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        sim_fmt(rel, sizeof(rel), SIM_DRIVERS "/%s/%s", name, files[i]);
        if (sim_exists(root, rel))
            continue;
        int rc = sim_put(root, rel, "", SIM_WRITABLE);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int put_hex(const char *root, const char *bdf, const char *file, unsigned v, int digits)
{
    char rel[PATH_MAX], text[32];
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/%s", bdf, file);
    sim_fmt(text, sizeof(text), "0x%0*x\n", digits, v);
    return sim_put(root, rel, text, SIM_READONLY);
}

int sim_make_dev(const char *root, const struct sim_dev *d)
{
    char rel[PATH_MAX], target[PATH_MAX], text[128];
    const char *b = d->bdf;
    int rc = 0;
    rc = rc ? rc : put_hex(root, b, "vendor", d->vendor, 4);
    rc = rc ? rc : put_hex(root, b, "device", d->device, 4);
    rc = rc ? rc : put_hex(root, b, "class", d->class_code, 6);
    rc = rc ? rc : put_hex(root, b, "subsystem_vendor", d->sub_vendor, 4);
    rc = rc ? rc : put_hex(root, b, "subsystem_device", d->sub_device, 4);
    if (rc < 0)
        return rc;
    sim_fmt(text, sizeof(text), "%s\n", d->override[0] ? d->override : "(null)");
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/driver_override", b);
    if ((rc = sim_put(root, rel, text, SIM_WRITABLE)) < 0)
        return rc;
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/remove", b);
    if ((rc = sim_put(root, rel, "", SIM_WRITABLE)) < 0)
        return rc;
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/reset", b);
    if ((rc = sim_put(root, rel, "", SIM_WRITABLE)) < 0)
        return rc;
    sim_fmt(rel, sizeof(rel), "sys/bus/pci/devices/%s", b);
    sim_fmt(target, sizeof(target), "../../../devices/pci0000:40/%s", b);
    if ((rc = sim_link(root, rel, target)) < 0)
        return rc;

    sim_fmt(rel, sizeof(rel), ".sim/native/%s", b);
    if ((rc = sim_put(root, rel, d->native, SIM_WRITABLE)) < 0)
        return rc;
    if (d->minor >= 0) {
        sim_fmt(rel, sizeof(rel), ".sim/minor/%s", b);
        sim_fmt(text, sizeof(text), "%d", d->minor);
        if ((rc = sim_put(root, rel, text, SIM_WRITABLE)) < 0)
            return rc;
        sim_fmt(rel, sizeof(rel), "dev/nvidia%d", d->minor);
        if ((rc = sim_put(root, rel, "", SIM_WRITABLE)) < 0)
            return rc;
        if ((rc = sim_put(root, "dev/nvidiactl", "", SIM_WRITABLE)) < 0)
            return rc;
    }
    if (d->drm[0]) {
        sim_fmt(rel, sizeof(rel), ".sim/drm/%s", b);
        if ((rc = sim_put(root, rel, d->drm, SIM_WRITABLE)) < 0)
            return rc;
        char list[SIM_NAME_LEN], *save = NULL;
        sim_fmt(list, sizeof(list), "%s", d->drm);
        for (char *n = strtok_r(list, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
            sim_fmt(rel, sizeof(rel), "dev/dri/%s", n);
            if ((rc = sim_put(root, rel, "", SIM_WRITABLE)) < 0)
                return rc;
        }
    }
    if (d->group >= 0) {
        sim_fmt(rel, sizeof(rel), SIM_GROUPS "/%d/devices/%s", d->group, b);
        sim_fmt(target, sizeof(target), "../../../../devices/pci0000:40/%s", b);
        if ((rc = sim_link(root, rel, target)) < 0)
            return rc;
        sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/iommu_group", b);
        sim_fmt(target, sizeof(target), "../../../kernel/iommu_groups/%d", d->group);
        if ((rc = sim_link(root, rel, target)) < 0)
            return rc;
    }
    if (d->native[0] && (rc = sim_make_driver(root, d->native)) < 0)
        return rc;
    if (d->driver[0]) {
        if ((rc = sim_make_driver(root, d->driver)) < 0)
            return rc;
        if ((rc = sim_bind(root, b, d->driver)) < 0)
            return rc;
    }
    return 0;
}
