/* SPDX-License-Identifier: Apache-2.0 */
/* reply.c: how handlers answer: JSON bodies, errors as {"error": "..."}, and the one table from an
 * action's errno value to an HTTP status, so that every handler says "does not fit" with 409 and
 * "not yours" with 404 the same way. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api.h"
#include "daemon/store.h"

void gvd_reply_json(struct gvd_resp *r, int status, json_t *j)
{
    r->status = status;
    free(r->body);
    r->body = j ? json_dumps(j, GVD_JSON_FLAGS) : NULL;
    json_decref(j);
    if (j && !r->body) {
        r->status = 500;
        r->body = strdup("{\"error\":\"out of memory\"}");
    }
    r->len = r->body ? strlen(r->body) : 0;
}

void gvd_reply_error(struct gvd_resp *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gvd_reply_json(r, status, json_pack("{ss}", "error", msg));
}

int gvd_status_of(int rc)
{
    switch (rc) {
    case -EINVAL:
    case -ERANGE:
        return 400;
    case -EACCES:
        return 401;
    case -EPERM:
    case -EDQUOT:
        return 403;
    case -ENOENT:
        return 404;
    case -EOPNOTSUPP:
        return 405;
    case -EEXIST:
    case -ENOSPC:
    case -EBUSY:
        return 409;
    default:
        return 500;
    }
}

void gvd_reply_err(struct gvd_resp *r, int rc, const struct gv_error *err)
{
    int status = gvd_status_of(rc);
    if (status == 500)
        fprintf(stderr, "gpuvisord: %s\n", err->msg);
    gvd_reply_error(r, status, "%s", err->msg[0] ? err->msg : "internal error");
}

json_t *gvd_json_share(uint32_t bp)
{
    return json_real(bp / 100.0);
}

json_t *gvd_json_str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

int gvd_event(struct gvd *d, const struct gvd_caller *who, const char *tenant, const char *action,
              const char *target, json_t *detail, struct gv_error *err)
{
    char *text = detail ? json_dumps(detail, GVD_JSON_FLAGS) : NULL;
    json_decref(detail);
    int rc = gvd_store_event(d->store, gvd_now(), who ? who->actor : "gpuvisord", tenant, action,
                             target, text, NULL, err);
    free(text);
    return rc;
}

void gvd_api_healthz(struct gvd_req *q, struct gvd_resp *r)
{
    (void)q;
    gvd_reply_json(r, 200, json_pack("{ss}", "status", "ok"));
}
