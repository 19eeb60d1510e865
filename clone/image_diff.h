/* image_diff: which byte ranges of two disks differ, each an image read
 * through its seek table (one frame decoded at a time) or a drive or raw
 * image read as it is, in frame-sized steps: two frames of memory, whatever
 * the disk size (clonebay diff).
 *
 * Ranges are exact at their ends and merged across equal gaps shorter than
 * DIFF_MERGE_GAP, so scattered changes in one block read as one range. An
 * area one side cannot read (a damaged frame, a bad sector) is reported as
 * such, never as equal or different. */
#ifndef CB_IMAGE_DIFF_H
#define CB_IMAGE_DIFF_H

#include "clone/frame_cache.h"

#include <stdint.h>

#define DIFF_MERGE_GAP 4096u

enum diff_kind {
    DIFF_DIFFERS,       /* both read, bytes differ */
    DIFF_UNREADABLE,    /* one side could not be read there */
    DIFF_ONLY_ONE,      /* past the end of the shorter disk */
};

/* Called for each range in disk order, with the bytes in it that differ
 * (the range includes the equal gaps it was merged across); a non-zero
 * return stops the walk. */
typedef int (*diff_range_fn)(void *arg, enum diff_kind kind, uint64_t off, uint64_t len, uint64_t ndiff);

struct diff_totals {
    uint64_t compared;      /* bytes both sides read and compared */
    uint64_t differ;        /* bytes that differ (past the shorter disk's end included) */
    uint64_t unreadable;
    uint64_t ranges;
};

/* Compare a and b from byte 0 to the end of the longer (fn may be NULL:
 * totals only). 0 (whatever was
 * found: see totals), or -errno with err (out of memory, a read error other
 * than a damaged area). */
int image_diff(struct fcache *a, struct fcache *b, diff_range_fn fn, void *arg, struct diff_totals *totals,
               struct cb_error *err);

#endif
