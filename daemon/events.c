/* SPDX-License-Identifier: Apache-2.0 */
/* events.c: the audit log, read back in pages.
 *
 * Every change the API makes writes one event in the same transaction as the change itself
 * (gvd_event), so the log has exactly the changes that happened: who (the token's owner, or the
 * Unix uid on the local socket), what, on which object, when, and the figures. Pages follow the
 * sequence number: a client passes the "next" of one page as ?after= of the next, and never misses
 * or repeats an event, whatever is written meanwhile. A tenant reads only its own events. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/api.h"
#include "daemon/store.h"

struct page {
    json_t *events;
    int64_t last;
};

json_t *gvd_event_json(const struct gvd_event *e)
{
    char time[32];
    gvd_time_format(e->time, time);
    json_t *detail = e->detail ? json_loads(e->detail, 0, NULL) : NULL;
    return json_pack("{sI ss ss s:o ss ss s:o}", "seq", (json_int_t)e->seq, "time", time, "actor",
                     e->actor, "tenant", gvd_json_str_or_null(e->tenant), "action", e->action,
                     "target", e->target, "detail", detail ? detail : json_object());
}

static void add(const struct gvd_event *e, void *arg)
{
    struct page *p = arg;
    json_array_append_new(p->events, gvd_event_json(e));
    p->last = e->seq;
}

void gvd_api_events(struct gvd_req *q, struct gvd_resp *r)
{
    const char *tenant = NULL;
    if (q->who->role == GVD_ROLE_TENANT)
        tenant = q->who->tenant->name;
    else if (q->query.tenant[0])
        tenant = q->query.tenant;
    struct page p = {json_array(), q->query.has_after ? (int64_t)q->query.after : 0};
    struct gv_error err = {0};
    int rc = gvd_store_events(q->d->store, tenant, p.last, q->query.limit, add, &p, &err);
    if (rc) {
        json_decref(p.events);
        return gvd_reply_err(r, rc, &err);
    }
    gvd_reply_json(r, 200, json_pack("{sosI}", "events", p.events, "next", (json_int_t)p.last));
}
