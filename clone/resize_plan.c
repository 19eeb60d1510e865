#include "clone/resize_plan.h"
#include "clone/fs/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A filesystem that shrinks is shrunk in a scratch file, never on the source. */
static bool shrinks_in_scratch(const struct layout_part *p, uint64_t least)
{
    const struct fs_ops *fs = fs_ops_find(p->fstype);
    return fs && fs->resize && !fs->recreated && least < p->size;
}

/* The least any target's plan gives partition k. */
static uint64_t least_size(const struct resize_plan *plan, const struct layout *src, size_t k)
{
    uint64_t least = src->parts[k].size;
    for (size_t t = 0; t < plan->ntargets; t++)
        if (plan->targets[t].l.parts[k].new_size < least)
            least = plan->targets[t].l.parts[k].new_size;
    return least;
}

static void build_extents(struct resize_plan *plan, const struct layout *l, bool used_only)
{
    uint64_t head = layout_head_bytes(l);
    for (size_t t = 0; t < plan->ntargets && head; t++)
        plan->targets[t].ext[0] = (struct io_extent){ .src = 0, .len = head, .dst = 0 };
    size_t n = head ? 1 : 0;
    for (size_t k = 0; k < l->nparts; k++) {
        const struct layout_part *p = &l->parts[k];
        if (p->extended)
            continue;
        uint64_t least = least_size(plan, l, k);
        if (used_only && shrinks_in_scratch(p, least) && plan->nscratch < RESIZE_MAX_SCRATCH) {
            plan->scratch[plan->nscratch++] = (struct resize_scratch_step){ .part = k, .size = least };
            continue;       /* copied from its scratch file */
        }
        for (size_t t = 0; t < plan->ntargets; t++)
            plan->targets[t].ext[n] = (struct io_extent){ .src = p->start, .len = least,
                                                          .dst = plan->targets[t].l.parts[k].new_start };
        n++;
    }
    for (size_t t = 0; t < plan->ntargets; t++)
        plan->targets[t].remap = (struct io_remap){ .ext = plan->targets[t].ext, .n = n };
}

int resize_plan_make(const struct layout *src, const uint64_t *sizes, const char *const *names, size_t n,
                     enum layout_resize how, bool used_only, struct resize_plan *out, struct cb_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!(out->targets = calloc(n ? n : 1, sizeof(*out->targets))))
        return cb_error_set(err, -ENOMEM, "out of memory");
    for (size_t t = 0; t < n; t++) {
        if (layout_copy(&out->targets[t].l, src))
            return cb_error_set(err, -ENOMEM, "out of memory");
        out->ntargets++;
        int rc = layout_plan(&out->targets[t].l, sizes[t], how, names[t], err);
        if (rc) {
            out->refused = t;
            return rc;
        }
    }
    build_extents(out, src, used_only);
    return 0;
}

void resize_plan_free(struct resize_plan *p)
{
    for (size_t t = 0; t < p->ntargets; t++)
        layout_free(&p->targets[t].l);
    free(p->targets);
    memset(p, 0, sizeof(*p));
}
