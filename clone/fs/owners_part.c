#include "clone/fs/owners_part.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void owners_add_why(struct owners_part *p, enum fs_owner_kind kind, uint64_t bytes, const char *why,
                    const char *fmt, ...)
{
    if (!bytes)
        return;
    char name[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    if (fs_owner_list_add(p->out, p->number, p->fstype, kind, name, bytes, why))
        p->rc = -ENOMEM;
}

int owners_read(const struct owners_part *p, void *buf, size_t len, uint64_t pos)
{
    if (pos > p->size || len > p->size - pos)
        return -EINVAL;
    return p->rd(p->rctx, buf, len, p->off + pos);
}

/* The first of n sorted, disjoint ranges (end(v, i): where range i ends)
 * that ends after x, by bisection: lists run to 100,000 ranges. */
static size_t first_ending_after(const void *v, size_t n, uint64_t (*end)(const void *v, size_t i), uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (end(v, mid) <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t span_end(const void *v, size_t i)
{
    const struct bad_span *s = v;
    return s[i].pos + s[i].len;
}

static uint64_t run_end(const void *v, size_t i)
{
    const struct unit_run *r = v;
    return r[i].first + r[i].count;
}

uint64_t owners_bad_in(const struct owners_part *p, uint64_t pos, uint64_t len)
{
    size_t lo = first_ending_after(p->bad, p->nbad, span_end, pos);
    uint64_t n = 0, end = pos + len;
    for (size_t i = lo; i < p->nbad && p->bad[i].pos < end; i++) {
        uint64_t a = p->bad[i].pos > pos ? p->bad[i].pos : pos;
        uint64_t z = p->bad[i].pos + p->bad[i].len < end ? p->bad[i].pos + p->bad[i].len : end;
        n += z - a;
    }
    return n;
}

/* ---- bad units ---- */

int bad_units_build(struct bad_units *b, const struct owners_part *p, uint64_t base, uint64_t unit, uint64_t nunits)
{
    *b = (struct bad_units){ .base = base, .unit = unit, .nunits = nunits };
    size_t cap = 0, total = 0;
    for (size_t i = 0; i < p->nbad; i++) {
        uint64_t a = p->bad[i].pos, z = a + p->bad[i].len;
        if (z <= base || a >= base + nunits * unit)
            continue;
        uint64_t first = (a > base ? a - base : 0) / unit;
        uint64_t last = (z - base + unit - 1) / unit;
        if (last > nunits)
            last = nunits;
        if (b->nruns && b->runs[b->nruns - 1].first + b->runs[b->nruns - 1].count > first) {
            /* Two spans in one unit: the run goes on. */
            struct unit_run *r = &b->runs[b->nruns - 1];
            if (last > r->first + r->count) {
                total += last - (r->first + r->count);
                r->count = last - r->first;
            }
            continue;
        }
        if (b->nruns == cap) {
            cap = cap ? cap * 2 : 64;
            struct unit_run *r = realloc(b->runs, cap * sizeof(*r));
            if (!r)
                return bad_units_free(b), -ENOMEM;
            b->runs = r;
        }
        b->runs[b->nruns++] = (struct unit_run){ .first = first, .count = last - first, .index = total };
        total += last - first;
    }
    b->owner = calloc(total ? total : 1, sizeof(*b->owner));
    b->current = 1;
    return b->owner ? 0 : (bad_units_free(b), -ENOMEM);
}

void bad_units_free(struct bad_units *b)
{
    free(b->runs);
    free(b->owner);
    b->runs = NULL;
    b->owner = NULL;
    b->nruns = 0;
}

void bad_units_next_owner(struct bad_units *b)
{
    b->current++;
}

/* The first run that ends after unit u. */
static size_t run_after(const struct bad_units *b, uint64_t u)
{
    return first_ending_after(b->runs, b->nruns, run_end, u);
}

bool bad_units_any(const struct bad_units *b, uint64_t first, uint64_t count)
{
    if (!b->nruns || first >= b->runs[b->nruns - 1].first + b->runs[b->nruns - 1].count ||
        first + count <= b->runs[0].first)
        return false;
    size_t i = run_after(b, first);
    return i < b->nruns && b->runs[i].first < first + count;
}

uint64_t bad_units_claim(const struct owners_part *p, struct bad_units *b, uint64_t first, uint64_t count)
{
    if (!bad_units_any(b, first, count))
        return 0;
    uint64_t bytes = 0, end = first + count;
    for (size_t i = run_after(b, first); i < b->nruns && b->runs[i].first < end; i++) {
        const struct unit_run *r = &b->runs[i];
        uint64_t a = r->first > first ? r->first : first;
        uint64_t z = r->first + r->count < end ? r->first + r->count : end;
        for (uint64_t u = a; u < z; u++) {
            uint32_t *o = &b->owner[r->index + (u - r->first)];
            if (*o != b->current)
                bytes += owners_bad_in(p, b->base + u * b->unit, b->unit);
            *o = b->current;
        }
    }
    return bytes;
}

void bad_units_rest(struct owners_part *p, struct bad_units *b, bool (*is_free)(void *ctx, uint64_t unit),
                    void *ctx, const char *why)
{
    for (size_t i = 0; i < b->nruns; i++)
        for (uint64_t k = 0; k < b->runs[i].count; k++) {
            if (b->owner[b->runs[i].index + k])
                continue;
            uint64_t u = b->runs[i].first + k;
            uint64_t n = owners_bad_in(p, b->base + u * b->unit, b->unit);
            if (is_free && is_free(ctx, u))
                owners_add(p, FS_OWNER_FREE, n, "free space");
            else
                owners_add(p, FS_OWNER_UNRESOLVED, n, "%s", why);
        }
}

size_t fs_put_utf8(char *out, uint16_t u)
{
    if (u < 0x80)
        return out[0] = (char)u, 1;
    if (u < 0x800)
        return out[0] = (char)(0xC0 | u >> 6), out[1] = (char)(0x80 | (u & 0x3F)), 2;
    out[0] = (char)(0xE0 | u >> 12);
    out[1] = (char)(0x80 | ((u >> 6) & 0x3F));
    out[2] = (char)(0x80 | (u & 0x3F));
    return 3;
}
