/* rescue: GNU ddrescue's phased walk over the block map.
 *
 *  1. copy: large reads over what is not tried; on an error, re-read that chunk
 *     in 64 KiB clusters, mark the failed clusters non-trimmed and skip ahead
 *     (the skip doubles on repeated errors, resets after a good read), so the
 *     healthy bulk is copied first and fast; a second pass reads what was
 *     skipped, without skipping;
 *  2. trim: read sector by sector inward from both edges of each failed area;
 *  3. scrape: read the rest of each area sector by sector;
 *  4. retry: more passes over the bad sectors;
 *  5. fill: write the fill (zeros, or a marker) over what stays unreadable.
 * Every phase drains the pipeline before the next one reads the map. */
#include "clone/engine_walk.h"

#include <string.h>

/* The next region in one of states, clipped to the domain when there is one
 * (to one region of it: *zero says whether that one is known zeros). */
static bool find_in(struct engine *e, uint64_t from, const char *states, uint64_t *pos, uint64_t *len, bool *zero)
{
    *zero = false;
    const struct block_map *domain = engine_domain(e);
    for (;;) {
        bool found = engine_find(e, from, states, pos, len);
        if (!found || !domain)
            return found;
        uint64_t dp, dl;
        if (!map_find(domain, *pos, "+z", &dp, &dl))
            return false;
        if (dp >= *pos + *len) {
            from = dp;          /* nothing of this region is in the domain: look further */
            continue;
        }
        uint64_t end = *pos + *len < dp + dl ? *pos + *len : dp + dl;
        *pos = dp;              /* map_find clips to start at *pos, so dp >= *pos */
        *len = end - dp;
        *zero = map_state_at(domain, dp) == MAP_ZERO;
        return true;
    }
}

/* Known zeros are never read, so only the copy pass meets them. */
static bool find(struct engine *e, uint64_t from, const char *states, uint64_t *pos, uint64_t *len)
{
    bool zero;
    return find_in(e, from, states, pos, len, &zero);
}

/* A known-zero region: published as zeros, nothing read, so it is never bad. */
static int publish_zeros(struct engine *e, uint64_t off, uint64_t end)
{
    int rc = 0;
    while (off < end && !engine_stop(e, &rc)) {
        uint64_t next = (off / engine_chunk(e) + 1) * engine_chunk(e);
        if (next > end)
            next = end;
        engine_publish(e, engine_zero_slot(e), off, (size_t)(next - off), SLOT_ZERO);
        off = next;
    }
    return rc;
}

/* Consecutive good sectors gathered into one slot before they are published. */
struct batch {
    struct ring_slot *s;
    uint64_t off;
    size_t len;
};

static void batch_flush(struct engine *e, struct batch *b)
{
    if (b->s && b->len)
        engine_publish(e, b->s, b->off, b->len, SLOT_DATA);
    b->s = NULL;
    b->len = 0;
}

/* Read one sector at off into the batch: 0 read, 1 bad, -errno source gone. */
static int batch_read(struct engine *e, struct batch *b, uint64_t off, size_t ss)
{
    if (b->s && (b->off + b->len != off || b->len + ss > engine_chunk(e)))
        batch_flush(e, b);
    if (!b->s) {
        b->s = engine_slot(e);
        b->off = off;
        b->len = 0;
    }
    int r = engine_read(e, (char *)b->s->buf + b->len, ss, off);
    if (r == 0)
        b->len += ss;
    else
        batch_flush(e, b);
    return r;
}

static uint64_t max_skip(const struct engine *e)
{
    uint64_t m = engine_size(e) / 100;
    if (m > (1ull << 30))
        m = 1ull << 30;
    return m < RESCUE_CLUSTER ? RESCUE_CLUSTER : m - m % RESCUE_CLUSTER;
}

/* Read [off, end) into a slot and publish it when it reads whole: 0; 1 when
 * it does not (nothing published: a bad area); -errno when the source is gone. */
static int read_and_publish(struct engine *e, uint64_t off, uint64_t end)
{
    struct ring_slot *s = engine_slot(e);
    int r = engine_read(e, s->buf, (size_t)(end - off), off);
    if (r == 0)
        engine_publish(e, s, off, (size_t)(end - off), SLOT_DATA);
    return r;
}

/* A large read failed in [off, end): go cluster by cluster. Returns where to go on. */
static int clusters(struct engine *e, uint64_t off, uint64_t end, uint64_t region_end, bool skipping,
                    uint64_t *skip, uint64_t *next)
{
    for (uint64_t c = off; c < end;) {
        uint64_t cend = (c / RESCUE_CLUSTER + 1) * RESCUE_CLUSTER;
        if (cend > end)
            cend = end;
        int r = read_and_publish(e, c, cend);
        if (r < 0)
            return r;
        if (r == 0) {
            *skip = 0;
            c = cend;
            continue;
        }
        engine_mark(e, c, cend - c, MAP_NONTRIMMED);
        if (skipping) {
            /* Leave the next stretch untried: the rest of the disk comes first. */
            *skip = *skip ? (*skip * 2 > max_skip(e) ? max_skip(e) : *skip * 2) : RESCUE_CLUSTER;
            *next = cend + *skip < region_end ? cend + *skip : region_end;
            return 0;
        }
        c = cend;
    }
    *next = end;
    return 0;
}

static int copy_pass(struct engine *e, int pass, bool skipping)
{
    engine_phase(e, PHASE_COPY, '?', pass);
    uint64_t pos = 0, rpos, rlen, skip = 0;
    int rc = 0;
    bool zero;
    while (!rc && find_in(e, pos, "?", &rpos, &rlen, &zero)) {
        uint64_t off = rpos, region_end = rpos + rlen;
        if (zero) {
            rc = publish_zeros(e, off, region_end);
            if (engine_cancelled(e))
                return rc;
            pos = region_end;
            continue;
        }
        while (!rc && off < region_end) {
            if (engine_stop(e, &rc))
                return rc;
            /* Chunks end on slot-size boundaries so requests stay aligned. */
            uint64_t end = (off / engine_chunk(e) + 1) * engine_chunk(e);
            if (end > region_end)
                end = region_end;
            int r = read_and_publish(e, off, end);
            if (r < 0)
                return r;
            if (r == 0) {
                skip = 0;
                off = end;
            } else {
                rc = clusters(e, off, end, region_end, skipping, &skip, &off);
            }
        }
        pos = off;
    }
    return rc;
}

static int trim(struct engine *e)
{
    engine_phase(e, PHASE_TRIM, '*', 1);
    size_t ss = engine_sector(e);
    uint64_t pos = 0, a, len;
    int rc = 0;
    while (!rc && find(e, pos, "*", &a, &len)) {
        uint64_t b = a + len, f = a;
        struct batch bt = { 0 };
        int r = 0;
        for (; f < b && !engine_stop(e, &rc); f += ss)
            if ((r = batch_read(e, &bt, f, ss)) != 0)
                break;
        batch_flush(e, &bt);
        if (r < 0 || rc || engine_cancelled(e))
            return r < 0 ? r : rc;
        pos = b;
        if (f >= b)
            continue;
        engine_mark(e, f, ss, MAP_BAD);
        uint64_t g = b - ss;
        for (; g > f && !engine_stop(e, &rc); g -= ss) {
            struct ring_slot *s = engine_slot(e);
            r = engine_read(e, s->buf, ss, g);
            if (r < 0)
                return r;
            if (r)
                break;
            engine_publish(e, s, g, ss, SLOT_DATA);
        }
        if (rc || engine_cancelled(e))
            return rc;
        if (g > f) {
            engine_mark(e, g, ss, MAP_BAD);
            if (g > f + ss)
                engine_mark(e, f + ss, g - f - ss, MAP_NONSCRAPED);
        }
    }
    return rc;
}

/* Sector by sector over every region in `state`; good sectors are copied,
 * bad ones marked bad. */
static int sector_pass(struct engine *e, char state)
{
    size_t ss = engine_sector(e);
    uint64_t pos = 0, a, len;
    int rc = 0;
    while (!rc && find(e, pos, (char[]){ state, 0 }, &a, &len)) {
        struct batch bt = { 0 };
        for (uint64_t x = a; x < a + len; x += ss) {
            if (engine_stop(e, &rc))
                break;
            int r = batch_read(e, &bt, x, ss);
            if (r < 0) {
                rc = r;
                break;
            }
            if (r && state != MAP_BAD)
                engine_mark(e, x, ss, MAP_BAD);
        }
        batch_flush(e, &bt);
        if (engine_cancelled(e))
            return 0;
        pos = a + len;
    }
    return rc;
}

/* The fill over unreadable sectors: zeros, or the pattern from each sector's start. */
static int fill_bad(struct engine *e)
{
    const char *pat = engine_fill(e);
    size_t plen = pat ? strlen(pat) : 0, ss = engine_sector(e);
    uint64_t pos = 0, a, len;
    while (find(e, pos, "-", &a, &len)) {
        for (uint64_t off = a; off < a + len;) {
            size_t n = a + len - off < engine_chunk(e) ? (size_t)(a + len - off) : engine_chunk(e);
            struct ring_slot *s = engine_slot(e);
            char *buf = s->buf;
            if (!plen)
                memset(buf, 0, n);
            else
                for (size_t i = 0; i < n; i++)
                    buf[i] = pat[((off + i) % ss) % plen];
            engine_publish(e, s, off, n, SLOT_FILL);
            off += n;
        }
        pos = a + len;
    }
    return 0;
}

int rescue_run(struct engine *e)
{
    int rc = copy_pass(e, 1, true);
    if (!rc && !engine_cancelled(e))
        rc = copy_pass(e, 2, false);
    if (!rc && !engine_cancelled(e))
        rc = trim(e);
    if (!rc && !engine_cancelled(e)) {
        engine_phase(e, PHASE_SCRAPE, '/', 1);
        rc = sector_pass(e, MAP_NONSCRAPED);
    }
    for (int pass = 1; !rc && !engine_cancelled(e) && pass <= engine_retries(e); pass++) {
        engine_phase(e, PHASE_RETRY, '-', pass);
        rc = sector_pass(e, MAP_BAD);
    }
    if (!rc && !engine_cancelled(e))
        rc = engine_serve_owed(e);
    if (!rc && !engine_cancelled(e))
        rc = fill_bad(e);
    engine_drain(e);
    return rc;
}
