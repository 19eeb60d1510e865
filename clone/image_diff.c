#include "clone/image_diff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 4096u

/* The range being grown, so changes a few bytes apart become one. */
struct walk {
    diff_range_fn fn;
    void *arg;
    struct diff_totals *t;
    bool open;
    uint64_t start, end;        /* [start, end) of differing bytes */
    uint64_t ndiff;             /* bytes in it that differ */
    int stop;
};

static void flush(struct walk *w)
{
    if (!w->open)
        return;
    w->open = false;
    w->t->differ += w->ndiff;
    w->t->ranges++;
    if (!w->stop && w->fn)
        w->stop = w->fn(w->arg, DIFF_DIFFERS, w->start, w->end - w->start, w->ndiff);
}

static void differs_at(struct walk *w, uint64_t a, uint64_t b)
{
    if (w->open && a - w->end < DIFF_MERGE_GAP) {
        w->end = b;
        w->ndiff += b - a;
        return;
    }
    flush(w);
    w->open = true;
    w->start = a;
    w->end = b;
    w->ndiff = b - a;
}

static void other(struct walk *w, enum diff_kind kind, uint64_t off, uint64_t len)
{
    flush(w);
    w->t->ranges++;
    if (kind == DIFF_UNREADABLE)
        w->t->unreadable += len;
    else
        w->t->differ += len;
    if (!w->stop && w->fn)
        w->stop = w->fn(w->arg, kind, off, len, kind == DIFF_ONLY_ONE ? len : 0);
}

/* Whole blocks compared with memcmp; bytes scanned only in blocks that differ. */
static void compare(struct walk *w, const unsigned char *a, const unsigned char *b, size_t n, uint64_t off)
{
    for (size_t at = 0; at < n; at += BLOCK) {
        size_t len = n - at < BLOCK ? n - at : BLOCK;
        if (!memcmp(a + at, b + at, len))
            continue;
        size_t i = 0;
        while (i < len) {
            while (i < len && a[at + i] == b[at + i])
                i++;
            size_t j = i;
            while (j < len && a[at + j] != b[at + j])
                j++;
            if (j > i)
                differs_at(w, off + at + i, off + at + j);
            i = j;
        }
    }
    w->t->compared += n;
}

/* Fill buf with n bytes at off; *good gets how many could be read before an
 * unreadable area (which then begins at off + *good). */
static int fill(struct fcache *c, unsigned char *buf, size_t n, uint64_t off, size_t *good)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = fcache_read(c, buf + done, n - done, off + done);
        if (r == -EIO || r == 0)
            break;
        if (r < 0)
            return (int)r;
        done += (size_t)r;
    }
    *good = done;
    return 0;
}

int image_diff(struct fcache *a, struct fcache *b, diff_range_fn fn, void *arg, struct diff_totals *totals,
               struct cb_error *err)
{
    memset(totals, 0, sizeof(*totals));
    size_t unit = fcache_frame_size(a);
    unsigned char *ba = malloc(unit), *bb = malloc(unit);
    if (!ba || !bb) {
        free(ba);
        free(bb);
        return cb_error_set(err, -ENOMEM, "out of memory");
    }
    struct walk w = { .fn = fn, .arg = arg, .t = totals };
    uint64_t common = fcache_size(a) < fcache_size(b) ? fcache_size(a) : fcache_size(b);
    int rc = 0;
    for (uint64_t off = 0; off < common && !w.stop;) {
        size_t n = common - off < unit ? (size_t)(common - off) : unit, ga = 0, gb = 0;
        if ((rc = fill(a, ba, n, off, &ga)) || (rc = fill(b, bb, n, off, &gb))) {
            cb_error_set(err, rc, "cannot read at disk byte %llu: %s", (unsigned long long)off, strerror(-rc));
            break;
        }
        size_t good = ga < gb ? ga : gb;
        compare(&w, ba, bb, good, off);
        if (good < n) {
            /* Step past the unreadable area a frame or a block at a time. */
            size_t skip = BLOCK;
            if (good == ga && !fcache_is_raw(a))
                skip = unit - (size_t)((off + good) % unit);
            else if (good == gb && !fcache_is_raw(b))
                skip = fcache_frame_size(b) - (size_t)((off + good) % fcache_frame_size(b));
            if (skip > n - good)
                skip = n - good;
            other(&w, DIFF_UNREADABLE, off + good, skip);
            n = good + skip;
        }
        off += n;
    }
    if (!rc && !w.stop && fcache_size(a) != fcache_size(b)) {
        uint64_t longer = fcache_size(a) > fcache_size(b) ? fcache_size(a) : fcache_size(b);
        other(&w, DIFF_ONLY_ONE, common, longer - common);
    }
    flush(&w);
    free(ba);
    free(bb);
    return rc;
}
