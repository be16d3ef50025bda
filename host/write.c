/* SPDX-License-Identifier: Apache-2.0 */
/* write.c: the context, and the one function every change to the host goes through.
 *
 * Keeping every write in one place is what makes --dry-run exact (the plan printed is the list of
 * calls that would have been made, in order) and lets tests put a stand-in kernel, or a failing
 * write, behind the same calls the product makes. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/internal.h"

static void set_root(char *dst, size_t len, const char *given, const char *env)
{
    const char *v = given && *given ? given : getenv(env);
    snprintf(dst, len, "%s", v && *v ? v : "/");
}

void gvh_ctx_init(struct gvh_ctx *c, const char *sysfs_root, const char *config_root)
{
    memset(c, 0, sizeof(*c));
    set_root(c->root, sizeof(c->root), sysfs_root, GVH_ENV_SYSFS_ROOT);
    set_root(c->config_root, sizeof(c->config_root), config_root, GVH_ENV_CONFIG_ROOT);
}

int gvh_write_file(const char *path, const char *value, size_t len)
{
    /* No O_CREAT: a sysfs attribute that is not there means the device or the feature is not, and
     * creating a plain file in its place would hide that. */
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t k = write(fd, value, len);
    int rc = k < 0 ? -errno : (size_t)k != len ? -EIO : 0;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

static FILE *plan_out(const struct gvh_ctx *c)
{
    return c->out ? c->out : stdout;
}

int gvh_write(const struct gvh_ctx *c, const char *path, const char *value, struct gv_error *err)
{
    /* The value without its newline, for the plan and for messages. */
    size_t vl = strlen(value);
    int shown = (int)(vl > 0 && value[vl - 1] == '\n' ? vl - 1 : vl);
    if (c->dry_run) {
        if (shown)
            fprintf(plan_out(c), "write %s %.*s\n", path, shown, value);
        else
            fprintf(plan_out(c), "write %s \"\"\n", path);
        return 0;
    }
    int rc = c->io && c->io->write ? c->io->write(c->io->arg, path, value, vl)
                                   : gvh_write_file(path, value, vl);
    if (rc)
        return gv_error_set(err, -EIO, "write \"%.*s\" to %s: %s", shown, value, path,
                            strerror(-rc));
    if (c->on_write) {
        char v[GVH_NAME_LEN];
        snprintf(v, sizeof(v), "%.*s", shown, value);
        c->on_write(c->on_write_arg, path, v);
    }
    return 0;
}

void gvh_note(const struct gvh_ctx *c, const char *fmt, ...)
{
    if (!c->dry_run)
        return;
    FILE *f = plan_out(c);
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", f);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    va_end(ap);
}

json_t *gvh_plan_json(const char *text)
{
    json_t *writes = json_array(), *notes = json_array();
    json_t *doc = json_pack("{sbsoso}", "dry_run", 1, "writes", writes, "notes", notes);
    if (!doc)
        return NULL;
    for (const char *line = text ? text : ""; *line;) {
        size_t n = strcspn(line, "\n");
        char *l = strndup(line, n);
        line += n + (line[n] == '\n');
        if (!l) {
            json_decref(doc);
            return NULL;
        }
        if (strncmp(l, "write ", 6) == 0) {
            /* The value has no spaces (drivers, addresses, UUIDs, numbers); the root may. */
            char *path = l + 6, *sp = strrchr(path, ' ');
            const char *value = "";
            if (sp) {
                *sp = '\0';
                value = strcmp(sp + 1, "\"\"") == 0 ? "" : sp + 1;
            }
            json_array_append_new(writes, json_pack("{ssss}", "path", path, "value", value));
        } else if (strncmp(l, "# ", 2) == 0) {
            json_array_append_new(notes, json_string(l + 2));
        } else if (*l) {
            json_array_append_new(notes, json_string(l));
        }
        free(l);
    }
    return doc;
}
