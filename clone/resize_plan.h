/* resize_plan: where a source's partitions go on targets of other sizes, as
 * data, with no I/O at all.
 *
 * From the source's layout, each partition already classified (what it may
 * do: fit, min_size, fstype), and the targets' sizes: one layout per target
 * (layout_plan), the remap its writer goes through (the ranges of the source
 * the engine copies and where each lands on that target), and the scratch
 * steps: a filesystem that shrinks on any target is shrunk once, in a scratch
 * file, to the least any plan gives it, and copied from there. Every plan
 * reads the same ranges of the source, so one read serves all targets. */
#ifndef CB_RESIZE_PLAN_H
#define CB_RESIZE_PLAN_H

#include "clone/io.h"
#include "clone/layout.h"
#include "common/cb_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESIZE_MAX_SCRATCH 8

struct resize_target_plan {
    struct layout l;                /* the source's layout, planned for this target */
    struct io_extent ext[LAYOUT_MAX_PARTS + 1];
    struct io_remap remap;          /* ext: what of the source goes where on this target */
};

struct resize_scratch_step {
    size_t part;                    /* index in the source layout's parts */
    uint64_t size;                  /* what it is shrunk to in the scratch file */
};

struct resize_plan {
    struct resize_target_plan *targets;
    size_t ntargets;
    struct resize_scratch_step scratch[RESIZE_MAX_SCRATCH];
    size_t nscratch;
    size_t refused;                 /* when making it failed: the target that cannot take the layout */
};

/* Plan src onto n targets of sizes[i] (names[i] for refusals). used_only: a
 * filesystem that shrinks is shrunk in a scratch file (its used blocks are
 * known); else its bytes are copied as they are. 0, or -errno with err
 * (-ENOSPC: target out->refused cannot hold the layout). out is freed with
 * resize_plan_free either way. */
int resize_plan_make(const struct layout *src, const uint64_t *sizes, const char *const *names, size_t n,
                     enum layout_resize how, bool used_only, struct resize_plan *out, struct cb_error *err);
void resize_plan_free(struct resize_plan *p);

#endif
