/* layout_plan: fit a partition layout onto a drive of another size, the way
 * a technician would by hand: same partitions in the same order, boot
 * partitions untouched, data partitions scaled with the drive, everything on
 * MiB boundaries, the last partition taking what is left. */
#include "clone/layout.h"
#include "clone/fs/fs.h"
#include "common/units.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static uint64_t align_up(uint64_t v) { return (v + LAYOUT_ALIGN - 1) / LAYOUT_ALIGN * LAYOUT_ALIGN; }
static uint64_t align_down(uint64_t v) { return v / LAYOUT_ALIGN * LAYOUT_ALIGN; }

/* The least a partition may get. */
static uint64_t need(const struct layout_part *p)
{
    return p->fit == FIT_ANY ? align_up(p->min_size ? p->min_size : p->size) : p->size;
}

static int no_room(const struct layout_part *p, uint64_t room, const char *tname, struct cb_error *err)
{
    char a[32], b[32];
    units_format_bytes(need(p), a, sizeof(a));
    units_format_bytes(room, b, sizeof(b));
    /* An encrypted volume holds nothing clonebay can read: why it cannot shrink is the reason to give. */
    bool encrypted = fs_encrypted(p->fstype) != NULL;
    const char *what = p->fit == FIT_ANY ? "needs at least" : p->fit == FIT_GROW ? "cannot shrink below" :
                       encrypted ? "is encrypted, copied whole at its size of" : "keeps its size of";
    return cb_error_set(err, -ENOSPC, "partition #%d (%s) %s %s but would get %s on %s", p->number,
                        p->fstype[0] ? p->fstype : "no filesystem", what, a, b, tname);
}

static int plan_keep(struct layout *l, uint64_t limit, const char *tname, struct cb_error *err)
{
    for (size_t i = 0; i < l->nparts; i++) {
        struct layout_part *p = &l->parts[i];
        p->new_start = p->start, p->new_size = p->size, p->new_ebr = p->ebr;
        if (p->start + p->size > limit) {
            char a[32], b[32];
            units_format_bytes(p->start + p->size, a, sizeof(a));
            units_format_bytes(limit, b, sizeof(b));
            return cb_error_set(err, -ENOSPC, "partition #%d ends at %s but %s holds only %s for partitions "
                                "(--resize keep copies the table unchanged)", p->number, a, tname, b);
        }
    }
    return 0;
}

/* Scaling ratio for the partitions that may change size. */
static double ratio(const struct layout *l, uint64_t src_limit, uint64_t limit)
{
    uint64_t scal = 0;
    for (size_t i = 0; i < l->nparts; i++)
        if (!l->parts[i].extended && l->parts[i].fit != FIT_FIXED)
            scal += l->parts[i].size;
    uint64_t fixed = src_limit - layout_head_bytes(l) - scal;   /* fixed partitions and gaps */
    if (!scal)
        return 1.0;
    if (limit <= fixed + layout_head_bytes(l))
        return 0.0;     /* each at its least: the refusal then names what truly does not fit */
    return (double)(limit - layout_head_bytes(l) - fixed) / (double)scal;
}

static int plan_proportional(struct layout *l, uint64_t limit, const char *tname, struct cb_error *err)
{
    uint64_t head = layout_head_bytes(l);
    double r = ratio(l, l->disk_size - layout_tail_bytes(l), limit);
    size_t last = l->nparts;        /* the last data partition: it takes what is left */
    for (size_t i = 0; i < l->nparts; i++)
        if (!l->parts[i].extended)
            last = i;
    uint64_t prev_src = head, prev_new = head;
    struct layout_part *ext = NULL;
    for (size_t i = 0; i < l->nparts; i++) {
        struct layout_part *p = &l->parts[i];
        if (ext && !p->logical && p->start >= ext->start + ext->size) {
            prev_src = ext->start + ext->size;  /* back outside the extended partition */
            prev_new = ext->new_start + ext->new_size;
            ext = NULL;
        }
        uint64_t gap = p->start > prev_src ? p->start - prev_src : 0;
        uint64_t lead = p->logical ? p->start - p->ebr : 0;
        uint64_t start = p->start == head ? head : align_up(prev_new + gap);
        if (start < prev_new + lead)
            start = align_up(prev_new + lead);
        p->new_start = start;
        if (p->extended) {
            ext = p;
            p->new_size = 0;
            prev_src = p->start;
            prev_new = start;
            continue;
        }
        uint64_t size = p->size;
        if (p->fit != FIT_FIXED) {
            uint64_t scaled = align_down((uint64_t)((double)p->size * r));
            size = scaled > need(p) ? scaled : need(p);
            if (i == last)
                size = limit > start ? limit - start : 0;
        }
        if (start + need(p) > limit || size < need(p))
            return no_room(p, limit > start ? limit - start : 0, tname, err);
        if (start + size > limit)
            return no_room(p, limit - start, tname, err);
        p->new_size = size;
        /* The first EBR must open the extended partition. */
        p->new_ebr = p->logical && ext && ext->new_size == 0 ? ext->new_start : start - lead;
        prev_src = p->start + p->size;
        prev_new = start + size;
        if (p->logical && ext)
            ext->new_size = prev_new - ext->new_start;
    }
    return 0;
}

int layout_plan(struct layout *l, uint64_t target_size, enum layout_resize how, const char *tname,
                struct cb_error *err)
{
    l->new_disk_size = target_size;
    uint64_t limit = target_size - layout_tail_bytes(l);
    if (l->kind == LAYOUT_MBR && limit > 0xFFFFFFFFull * l->sector)
        limit = 0xFFFFFFFFull * l->sector;      /* MBR counts sectors in 32 bits */
    if (how == RESIZE_AUTO)
        how = target_size == l->disk_size ? RESIZE_KEEP : RESIZE_PROPORTIONAL;
    return how == RESIZE_KEEP ? plan_keep(l, limit, tname, err) : plan_proportional(l, limit, tname, err);
}
