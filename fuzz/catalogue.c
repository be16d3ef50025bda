/* SPDX-License-Identifier: Apache-2.0 */
/* catalogue.c (fuzz): looking up GPU models and profiles by any name, gv_model_find and
 * gv_profile_find.
 *
 * Names come from users (--profile, the daemon's REST API) and so can be anything. A miss builds a
 * "near: ..." list from edit distances over every model and profile, with fixed buffers, which is
 * where long or odd names could do harm. The input is tried as a model name, as a profile name
 * alone, and as a profile name on one model (chosen by the input's length, so that seeds stay
 * plain names; a miss on every model each time would make the fuzzer several times slower for
 * little more). Properties: a model found has the name, product or
 * an alias asked for (any case); a profile found belongs to the model reported, which is the model
 * given when one was; a miss leaves a terminated message. */
#include <errno.h>
#include <strings.h>

#include "core/catalogue.h"
#include "fuzz/fuzz.h"

static void check_profile(const struct gv_profile *p, const struct gv_model *m)
{
    fuzz_check(m != NULL && p != NULL);
    fuzz_check(p >= m->profiles && p < m->profiles + m->nprofiles);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = fuzz_string(data, size);
    struct gv_error err = {0};

    const struct gv_model *m = gv_model_find(name, &err);
    if (m)
        fuzz_check(strcasecmp(m->name, name) == 0 || strcasecmp(m->product, name) == 0 ||
                   strcasestr(m->aliases, name) != NULL);
    else
        fuzz_check(err.code < 0 && fuzz_msg_ok(err));

    const struct gv_profile *p = NULL;
    const struct gv_model *pm = NULL;
    memset(&err, 0, sizeof(err));
    if (gv_profile_find(name, NULL, &p, &pm, &err) == 0)
        check_profile(p, pm);
    else
        fuzz_check(err.code < 0 && fuzz_msg_ok(err));

    const struct gv_model *given = gv_model_at(size % gv_model_count());
    p = NULL;
    pm = NULL;
    memset(&err, 0, sizeof(err));
    if (gv_profile_find(name, given, &p, &pm, &err) == 0) {
        check_profile(p, pm);
        fuzz_check(pm == given);
    } else {
        fuzz_check(err.code == -ENOENT || err.code == -EINVAL);
        fuzz_check(fuzz_msg_ok(err));
    }
    free(name);
    return 0;
}
