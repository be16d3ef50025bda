/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.c: GET /metrics, Prometheus' text exposition format (version 0.0.4).
 *
 * Labels follow dcgm-exporter's where they name the same thing (gpu, UUID, modelName), so that a
 * dashboard can join gpuvisor's series with the driver's; gpuvisor adds instance and tenant. Per
 * GPU: memory total and promised, compute promised, instances. Per instance, read live from its
 * region: memory used and limit, compute share, GPU time and time waited for the GPU (counters in
 * seconds), refused charges. Per tenant: quotas (only those set) and use. Per API route: requests
 * by method and status. Any valid token may read them; a tenant sees only its own instances and
 * itself, and no request counts. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api.h"

struct text {
    char *buf;
    size_t len;
    FILE *f;
};

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *name, const char *v)
{
    fprintf(f, "%s=\"", name);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
    fputc('"', f);
}

/* A sample value: integers exactly (byte counts), others to ten digits (ratios, seconds). */
static void value(FILE *f, double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        fprintf(f, "%.0f\n", v);
    else
        fprintf(f, "%.10g\n", v);
}

static void help(FILE *f, const char *name, const char *type, const char *text)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void gpu_labels(FILE *f, const struct gvd_gpu *g)
{
    char idx[16];
    snprintf(idx, sizeof(idx), "%u", g->index);
    label(f, "gpu", idx);
    fputc(',', f);
    label(f, "UUID", g->uuid_text);
    fputc(',', f);
    label(f, "modelName", g->product);
}

static void gpus(FILE *f, struct gvd *d)
{
    static const struct {
        const char *name, *help;
    } series[] = {
        {"gpuvisor_gpu_memory_total_bytes", "Memory of the GPU."},
        {"gpuvisor_gpu_memory_allocated_bytes", "Memory promised to instances on the GPU."},
        {"gpuvisor_gpu_compute_allocated_ratio", "GPU time promised to instances (1 = all)."},
        {"gpuvisor_gpu_instances", "Instances on the GPU."},
    };
    for (size_t s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
        help(f, series[s].name, "gauge", series[s].help);
        for (unsigned i = 0; i < d->ngpus; i++) {
            uint64_t memory;
            uint32_t share, count;
            gvd_gpu_usage(d, (int)i, &memory, &share, &count);
            fprintf(f, "%s{", series[s].name);
            gpu_labels(f, &d->gpus[i]);
            fputc('}', f);
            switch (s) {
            case 0:
                fprintf(f, " %llu\n", (unsigned long long)d->gpus[i].memory_total);
                break;
            case 1:
                fprintf(f, " %llu\n", (unsigned long long)memory);
                break;
            case 2:
                fprintf(f, " %.4f\n", share / 10000.0);
                break;
            default:
                fprintf(f, " %u\n", count);
            }
        }
    }
}

/* One instance's figures, read from its region, in the order of the series below. */
enum { F_USED, F_LIMIT, F_SHARE, F_BUSY, F_WAITED, F_REFUSED, F_OOM, F_MEMBERS, F_COUNT };
struct figures {
    double v[F_COUNT];
};

static void instance_figures(const struct gvd_instance *in, struct gvr_snapshot *s,
                             struct figures *x)
{
    memset(x, 0, sizeof(*x));
    x->v[F_LIMIT] = (double)in->memory;
    x->v[F_SHARE] = in->share / 10000.0;
    struct gvd_live live;
    gvd_instance_live(in, s, &live);
    x->v[F_USED] = (double)live.used;
    x->v[F_BUSY] = (double)live.busy_total_ns / 1e9;
    x->v[F_WAITED] = (double)live.waited_total_ns / 1e9;
    x->v[F_REFUSED] = (double)live.refused;
    x->v[F_OOM] = (double)live.driver_oom;
    x->v[F_MEMBERS] = live.members;
}

static void instances(FILE *f, struct gvd *d, const struct gvd_caller *who)
{
    static const struct {
        const char *name, *type, *help;
    } series[F_COUNT] = {
        {"gpuvisor_instance_memory_used_bytes", "gauge", "Memory the instance's processes hold."},
        {"gpuvisor_instance_memory_limit_bytes", "gauge", "The instance's memory limit."},
        {"gpuvisor_instance_compute_share_ratio", "gauge",
         "The instance's share of its GPU's time (0 = no compute limit)."},
        {"gpuvisor_instance_gpu_time_seconds_total", "counter",
         "GPU time the instance's work has used."},
        {"gpuvisor_instance_wait_seconds_total", "counter",
         "Time the instance's launches waited for the GPU."},
        {"gpuvisor_instance_refused_total", "counter",
         "Memory charges refused because the instance was at its limit."},
        {"gpuvisor_instance_driver_oom_total", "counter",
         "Charges that fit the instance but the GPU was out of memory."},
        {"gpuvisor_instance_members", "gauge", "Processes in the instance."},
    };
    size_t n = 0;
    for (size_t i = 0; i < d->ninstances; i++)
        n += gvd_visible(who, d->instances[i]);
    struct figures *x = calloc(n ? n : 1, sizeof(*x));
    struct gvr_snapshot *snap = malloc(sizeof(*snap));
    if (!x || !snap) {
        free(x);
        free(snap);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < d->ninstances; i++)
        if (gvd_visible(who, d->instances[i]))
            instance_figures(d->instances[i], snap, &x[k++]);
    free(snap);
    for (size_t s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
        help(f, series[s].name, series[s].type, series[s].help);
        k = 0;
        for (size_t i = 0; i < d->ninstances; i++) {
            const struct gvd_instance *in = d->instances[i];
            if (!gvd_visible(who, in))
                continue;
            double v = x[k++].v[s];
            fprintf(f, "%s{", series[s].name);
            label(f, "instance", in->id);
            fputc(',', f);
            label(f, "name", in->name);
            fputc(',', f);
            label(f, "tenant", in->tenant);
            if (in->gpu >= 0) {
                fputc(',', f);
                gpu_labels(f, &d->gpus[in->gpu]);
            }
            fputs("} ", f);
            value(f, v);
        }
    }
    free(x);
}

static void tenants(FILE *f, struct gvd *d, const struct gvd_caller *who)
{
    static const struct {
        const char *name, *help;
    } series[] = {
        {"gpuvisor_tenant_quota_memory_bytes", "The tenant's memory quota (when it has one)."},
        {"gpuvisor_tenant_quota_compute_ratio",
         "The tenant's compute quota, in GPUs' worth of time (when it has one)."},
        {"gpuvisor_tenant_quota_instances", "The tenant's instance quota (when it has one)."},
        {"gpuvisor_tenant_memory_bytes", "Memory of the tenant's instances."},
        {"gpuvisor_tenant_compute_ratio", "Compute shares of the tenant's instances, added up."},
        {"gpuvisor_tenant_instances", "The tenant's instances."},
    };
    for (size_t s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
        help(f, series[s].name, "gauge", series[s].help);
        for (size_t i = 0; i < d->ntenants; i++) {
            const struct gvd_tenant *t = d->tenants[i];
            if (who->role == GVD_ROLE_TENANT && who->tenant != t)
                continue;
            struct gvd_usage u;
            gvd_tenant_usage(d, t->name, &u);
            const struct gvd_quota *q = &t->quota;
            double v;
            bool has = true;
            switch (s) {
            case 0:
                has = q->has_memory, v = (double)q->memory;
                break;
            case 1:
                has = q->has_compute, v = q->compute / 10000.0;
                break;
            case 2:
                has = q->has_instances, v = q->instances;
                break;
            case 3:
                v = (double)u.memory;
                break;
            case 4:
                v = (double)u.share / 10000.0;
                break;
            default:
                v = u.instances;
            }
            if (!has)
                continue;
            fprintf(f, "%s{", series[s].name);
            label(f, "tenant", t->name);
            fputs("} ", f);
            value(f, v);
        }
    }
}

static void request_count(const char *route, const char *method, int status, unsigned long long n,
                          void *arg)
{
    FILE *f = arg;
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    fputs("gpuvisor_api_requests_total{", f);
    label(f, "route", route);
    fputc(',', f);
    label(f, "method", method);
    fputc(',', f);
    label(f, "code", code);
    fprintf(f, "} %llu\n", n);
}

void gvd_api_metrics(struct gvd_req *q, struct gvd_resp *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return gvd_reply_error(r, 500, "out of memory");
    gpus(f, q->d);
    instances(f, q->d, q->who);
    tenants(f, q->d, q->who);
    if (q->who->role == GVD_ROLE_ADMIN) {
        help(f, "gpuvisor_api_requests_total", "counter", "API requests by route, method, status.");
        gvd_http_counts(request_count, f);
    }
    if (fclose(f) != 0) {
        free(buf);
        return gvd_reply_error(r, 500, "out of memory");
    }
    r->status = 200;
    r->body = buf;
    r->len = len;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
