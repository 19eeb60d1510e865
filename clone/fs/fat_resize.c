#include "clone/fs/fat_resize.h"
#include "common/le_bytes.h"
#include "common/units.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAT_MAX_BYTES (256u << 20)  /* what fs_used reads of one FAT */
#define MOVE_CHUNK (4u << 20)

struct fat_geom {
    unsigned char bs[4096];         /* the boot sector (bps bytes of it) */
    uint32_t bps, spc, reserved, nfats, fatsz, root_sectors;
    uint64_t total, first_data, clusters;   /* in sectors, sectors, clusters */
    int bits;                               /* 12, 16, 32 */
};

static void put16(unsigned char *p, uint64_t v)
{
    p[0] = (unsigned char)(v & 0xFF), p[1] = (unsigned char)(v >> 8 & 0xFF);
}

static const char *type_name(int bits)
{
    return bits == 32 ? "FAT32" : bits == 16 ? "FAT16" : "FAT12";
}

/* The fewest and most clusters a FAT of this type may have: the type is read
 * from the count. */
static uint64_t type_min(int bits) { return bits == 32 ? 65525 : bits == 16 ? 4085 : 1; }
static uint64_t type_max(int bits)
{
    return bits == 32 ? FAT_MAX_BYTES / 4 - 2 : bits == 16 ? 65524 : 4084;
}

/* 0, -EIO, or -EINVAL when the boot sector is not a FAT one this can resize. */
static int read_geom(int fd, uint64_t off, uint64_t size, struct fat_geom *g)
{
    unsigned char *bs = g->bs;
    ssize_t r = pread(fd, bs, sizeof(g->bs), (off_t)off);
    if (r < 512)
        return r < 0 ? -errno : -EIO;
    if (bs[510] != 0x55 || bs[511] != 0xAA)
        return -EINVAL;
    g->bps = le_get16(bs + 11), g->spc = bs[13], g->reserved = le_get16(bs + 14), g->nfats = bs[16];
    g->total = le_get16(bs + 19) ? le_get16(bs + 19) : le_get32(bs + 32);
    g->fatsz = le_get16(bs + 22) ? le_get16(bs + 22) : le_get32(bs + 36);
    if ((g->bps != 512 && g->bps != 1024 && g->bps != 2048 && g->bps != 4096) || r < (ssize_t)g->bps ||
        !g->spc || (g->spc & (g->spc - 1)) || !g->reserved || g->nfats < 1 || g->nfats > 2 || !g->fatsz ||
        g->total * g->bps > size || (uint64_t)g->fatsz * g->bps > FAT_MAX_BYTES)
        return -EINVAL;
    g->root_sectors = (uint32_t)(((uint64_t)le_get16(bs + 17) * 32 + g->bps - 1) / g->bps);
    g->first_data = g->reserved + (uint64_t)g->nfats * g->fatsz + g->root_sectors;
    if (g->first_data >= g->total)
        return -EINVAL;
    g->clusters = (g->total - g->first_data) / g->spc;
    g->bits = le_get16(bs + 22) == 0 ? 32 : g->clusters < 4085 ? 12 : 16;
    if ((uint64_t)g->fatsz * g->bps * 8 / (unsigned)g->bits < g->clusters + 2)
        return -EINVAL;     /* a FAT shorter than its clusters: fsck.fat's to mend */
    return 0;
}

static uint32_t entry(const struct fat_geom *g, const unsigned char *fat, uint64_t c)
{
    if (g->bits == 32)
        return le_get32(fat + c * 4) & 0x0FFFFFFF;
    if (g->bits == 16)
        return le_get16(fat + c * 2);
    uint32_t w = le_get16(fat + c * 3 / 2);
    return c & 1 ? w >> 4 : w & 0xFFF;
}

/* Values from here on are bad-cluster and end-of-chain marks, not links. */
static uint32_t mark_from(int bits)
{
    return bits == 32 ? 0x0FFFFFF7 : bits == 16 ? 0xFFF7 : 0xFF7;
}

static void set_entry(const struct fat_geom *g, unsigned char *fat, uint64_t c, uint32_t v)
{
    if (g->bits == 32) {
        le_put32(fat + c * 4, (le_get32(fat + c * 4) & 0xF0000000) | (v & 0x0FFFFFFF));   /* the top 4 bits are kept */
    } else if (g->bits == 16) {
        put16(fat + c * 2, v);
    } else {
        unsigned char *p = fat + c * 3 / 2;
        if (c & 1)
            p[0] = (unsigned char)((p[0] & 0x0F) | (v << 4 & 0xF0)), p[1] = (unsigned char)(v >> 4 & 0xFF);
        else
            p[0] = (unsigned char)(v & 0xFF), p[1] = (unsigned char)((p[1] & 0xF0) | (v >> 8 & 0x0F));
    }
}

/* Clusters holding data: neither free nor marked bad. */
static uint64_t count_used(const struct fat_geom *g, const unsigned char *fat)
{
    uint64_t n = 0;
    for (uint64_t c = 2; c < g->clusters + 2; c++)
        n += entry(g, fat, c) != 0 && entry(g, fat, c) != mark_from(g->bits);
    return n;
}

static uint64_t cluster_at(const struct fat_geom *g, uint64_t c)
{
    return (g->first_data + (c - 2) * g->spc) * g->bps;
}

/* FAT copy 1, whole (fatsz sectors), or NULL. */
static unsigned char *read_fat(int fd, uint64_t off, const struct fat_geom *g, size_t room)
{
    size_t n = (size_t)g->fatsz * g->bps;
    unsigned char *fat = calloc(1, n > room ? n : room);
    if (fat && pread(fd, fat, n, (off_t)(off + (uint64_t)g->reserved * g->bps)) != (ssize_t)n) {
        free(fat);
        return NULL;
    }
    return fat;
}

/* The highest cluster in use (bad ones count), 1 when none is. */
static uint64_t last_used(const struct fat_geom *g, const unsigned char *fat)
{
    for (uint64_t c = g->clusters + 1; c >= 2; c--)
        if (entry(g, fat, c))
            return c;
    return 1;
}

static uint64_t fat_sectors_for(const struct fat_geom *g, uint64_t clusters)
{
    uint64_t bytes = ((clusters + 2) * (unsigned)g->bits + 7) / 8;
    return (bytes + g->bps - 1) / g->bps;
}

/* The FAT length and cluster count a filesystem of total sectors gets when it
 * grows: the FATs lengthened as far as they must be (never shortened), the
 * clusters capped at what its type addresses. */
static void fit(const struct fat_geom *g, uint64_t total, uint64_t *fatsz, uint64_t *clusters)
{
    uint64_t f = g->fatsz, c = 0;
    for (;;) {
        uint64_t first = g->reserved + g->nfats * f + g->root_sectors;
        c = total > first ? (total - first) / g->spc : 0;
        if (c > type_max(g->bits))
            c = type_max(g->bits);
        uint64_t need = fat_sectors_for(g, c);
        if (need <= f)
            break;
        f = need;           /* c only falls as f rises: this ends */
    }
    *fatsz = f, *clusters = c;
}

int fat_resize_limits(const char *path, uint64_t off, uint64_t size, uint64_t *min, uint64_t *max, char *why,
                      size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, why_len, "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    struct fat_geom g;
    int rc = read_geom(fd, off, size, &g);
    unsigned char *fat = rc ? NULL : read_fat(fd, off, &g, 0);
    if (!rc && !fat)
        rc = -EIO;
    if (rc) {
        snprintf(why, why_len, "the FAT at byte %llu of %s %s", (unsigned long long)off, path,
                 rc == -EINVAL ? "is not one clonebay can resize" : "cannot be read");
    } else {
        uint64_t least = count_used(&g, fat);
        least += least / 20 + (1u << 20) / (g.spc * g.bps);     /* room to write to, as for ext */
        uint64_t floor = type_min(g.bits) < g.clusters ? type_min(g.bits) : g.clusters;
        if (least < floor)
            least = floor;
        if (least > g.clusters)
            least = g.clusters;
        *min = (g.first_data + least * g.spc) * g.bps;
        uint64_t f = fat_sectors_for(&g, type_max(g.bits));
        if (f < g.fatsz)
            f = g.fatsz;
        *max = (g.reserved + g.nfats * f + g.root_sectors + type_max(g.bits) * g.spc) * g.bps;
    }
    free(fat);
    close(fd);
    return rc;
}

static int put(int fd, const void *buf, size_t n, uint64_t at)
{
    ssize_t w = pwrite(fd, buf, n, (off_t)at);
    return w == (ssize_t)n ? 0 : w < 0 ? -errno : -EIO;
}

/* Move [from, from+len) up by `by` bytes, top first, so nothing is
 * overwritten before it is read. */
static int move_up(int fd, uint64_t from, uint64_t len, uint64_t by, unsigned char *buf)
{
    while (len) {
        uint64_t n = len < MOVE_CHUNK ? len : MOVE_CHUNK, at = from + len - n;
        ssize_t r = pread(fd, buf, n, (off_t)at);
        if (r != (ssize_t)n)
            return r < 0 ? -errno : -EIO;
        int rc = put(fd, buf, n, at + by);
        if (rc)
            return rc;
        len -= n;
    }
    return 0;
}

/* Grow step: every run of clusters in use, then the root directory region,
 * moved up by `by` sectors (what the FATs grew). */
static int move_data(int fd, const struct fat_geom *g, const unsigned char *fat, uint64_t by)
{
    unsigned char *buf = malloc(MOVE_CHUNK);
    if (!buf)
        return -ENOMEM;
    uint64_t bps = g->bps, csize = (uint64_t)g->spc * bps;
    int rc = 0;
    for (uint64_t c = last_used(g, fat); !rc && c >= 2;) {
        if (!entry(g, fat, c)) {
            c--;
            continue;
        }
        uint64_t top = c;
        while (c >= 2 && entry(g, fat, c))
            c--;
        uint64_t first = c + 1;     /* the run is [first, top] */
        rc = move_up(fd, (g->first_data + (first - 2) * g->spc) * bps, (top - first + 1) * csize, by * bps, buf);
    }
    if (!rc && g->root_sectors)
        rc = move_up(fd, (g->first_data - g->root_sectors) * bps, (uint64_t)g->root_sectors * bps, by * bps, buf);
    free(buf);
    return rc;
}

/* FAT32's FSInfo sector (and its backup): the free count for the new
 * cluster count, the next-free hint dropped when it points past the end. */
static int write_fsinfo(int fd, const struct fat_geom *g, const unsigned char *fat, uint64_t clusters)
{
    uint32_t at = le_get16(g->bs + 48), backup = le_get16(g->bs + 50);
    if (g->bits != 32 || !at || at == 0xFFFF || at >= g->reserved)
        return 0;
    uint32_t free_count = 0;
    for (uint64_t c = 2; c < clusters + 2; c++)
        free_count += entry(g, fat, c) == 0;
    uint32_t sectors[2] = { at, backup && backup != 0xFFFF && backup + at < g->reserved ? backup + at : 0 };
    unsigned char s[4096];
    for (int i = 0; i < 2 && sectors[i]; i++) {
        uint64_t pos = (uint64_t)sectors[i] * g->bps;
        if (pread(fd, s, g->bps, (off_t)pos) != (ssize_t)g->bps)
            return -EIO;
        if (le_get32(s) != 0x41615252 || le_get32(s + 484) != 0x61417272)
            continue;       /* no FSInfo there: nothing to keep right */
        le_put32(s + 488, free_count);
        uint32_t next = le_get32(s + 492);
        if (next != 0xFFFFFFFF && (next < 2 || next >= clusters + 2))
            le_put32(s + 492, 0xFFFFFFFF);
        int rc = put(fd, s, g->bps, pos);
        if (rc)
            return rc;
    }
    return 0;
}

/* The boot sector (and FAT32's backup) saying total sectors and FAT length. */
static int write_boot(int fd, struct fat_geom *g, uint64_t total, uint64_t fatsz)
{
    unsigned char *bs = g->bs;
    bool small = g->bits != 32 && total <= 0xFFFF;
    le_put32(bs + 32, small ? 0 : (uint32_t)total);
    put16(bs + 19, small ? total : 0);
    if (g->bits == 32)
        le_put32(bs + 36, (uint32_t)fatsz);
    else
        put16(bs + 22, fatsz);
    int rc = put(fd, bs, g->bps, 0);
    uint32_t backup = le_get16(bs + 50);
    if (!rc && g->bits == 32 && backup && backup != 0xFFFF && backup < g->reserved)
        rc = put(fd, bs, g->bps, (uint64_t)backup * g->bps);
    return rc;
}

/* A growing list of numbers: directory entries' offsets, directories to read. */
struct list {
    uint64_t *v;
    size_t n, cap;
};

static int list_add(struct list *l, uint64_t x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint64_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

/* A shrink's moves: each cluster in use from `end` on gets a free one below
 * it (to[c - end], 0: not moved), and the directory entries naming a moved
 * cluster are found by walking the tree (their byte offsets). */
struct moves {
    uint64_t end;
    uint32_t *to;
    struct list refs;
};

/* The first cluster a directory entry names. */
static uint64_t first_cluster(const struct fat_geom *g, const unsigned char *e)
{
    return le_get16(e + 26) | (g->bits == 32 ? (uint64_t)le_get16(e + 20) << 16 : 0);
}

/* The walk over the directory tree a shrink's moves need. */
struct walk {
    int fd;
    const struct fat_geom *g;
    const unsigned char *fat;
    struct moves *m;
    unsigned char *seen;            /* one bit per directory cluster read: a damaged tree may loop */
    unsigned char *buf;             /* one cluster, or the FAT12/16 root region */
    struct list stack;              /* directories still to read, by first cluster */
};

/* One directory's entries, in the root region (c 0, FAT12/16) or along its
 * chain: those naming a moved cluster recorded, its subdirectories pushed.
 * -EINVAL when the tree does not add up (a chain that leaves the volume,
 * loops, or is shared with another directory; an entry naming a free cluster
 * that would move): nothing is moved then. */
static int walk_dir(struct walk *w, uint64_t c)
{
    const struct fat_geom *g = w->g;
    struct moves *m = w->m;
    for (bool root = c == 0;;) {
        uint64_t at = root ? (g->first_data - g->root_sectors) * g->bps : cluster_at(g, c);
        uint64_t len = root ? (uint64_t)g->root_sectors * g->bps : (uint64_t)g->spc * g->bps;
        if (!root) {
            if (c < 2 || c >= g->clusters + 2 || (w->seen[c / 8] & (1u << c % 8)))
                return -EINVAL;
            w->seen[c / 8] |= (unsigned char)(1u << c % 8);
        }
        if (pread(w->fd, w->buf, len, (off_t)at) != (ssize_t)len)
            return -EIO;
        for (uint64_t i = 0; i < len; i += 32) {
            const unsigned char *e = w->buf + i;
            if (e[0] == 0)
                return 0;       /* the end of the directory */
            if (e[0] == 0xE5 || e[11] == 0x0F || (e[11] & 0x08))
                continue;       /* deleted, long-name part, volume label */
            uint64_t fc = first_cluster(g, e);
            int rc = 0;
            if (fc >= m->end && fc < g->clusters + 2)
                rc = m->to[fc - m->end] ? list_add(&m->refs, at + i) : -EINVAL;
            if (!rc && (e[11] & 0x10) && e[0] != '.' && fc)
                rc = list_add(&w->stack, fc);
            if (rc)
                return rc;
        }
        if (root || (c = entry(g, w->fat, c)) >= mark_from(g->bits))
            return 0;
    }
}

/* Plan the moves for a shrink to `end` (a cluster number). Reads only. */
static int plan_moves(int fd, const struct fat_geom *g, const unsigned char *fat, uint64_t end, struct moves *m)
{
    uint64_t hi = g->clusters + 2, free_c = 2;
    uint64_t csize = (uint64_t)g->spc * g->bps, rsize = (uint64_t)g->root_sectors * g->bps;
    struct walk w = { .fd = fd, .g = g, .fat = fat, .m = m, .seen = calloc(hi / 8 + 1, 1),
                      .buf = malloc(csize > rsize ? csize : rsize) };
    m->end = end;
    m->to = calloc(hi - end, sizeof(*m->to));
    int rc = m->to && w.seen && w.buf ? 0 : -ENOMEM;
    for (uint64_t c = end; !rc && c < hi; c++) {
        uint32_t v = entry(g, fat, c);
        if (!v || v == mark_from(g->bits))
            continue;       /* free, or a bad mark: it leaves with the end */
        while (free_c < end && entry(g, fat, free_c))
            free_c++;
        if (free_c >= end)
            rc = -ENOSPC;
        else
            m->to[c - end] = (uint32_t)free_c++;
    }
    uint64_t root = g->bits == 32 ? le_get32(g->bs + 44) : 0;
    if (!rc && g->bits == 32 && (root < 2 || root >= hi))
        rc = -EINVAL;
    if (!rc)
        rc = walk_dir(&w, root);
    while (!rc && w.stack.n)
        rc = walk_dir(&w, w.stack.v[--w.stack.n]);
    free(w.stack.v);
    free(w.seen);
    free(w.buf);
    return rc;
}

/* Carry out the moves: the directory entries first (where they are now, so
 * the moved copies carry them), then the clusters' bytes, then the FAT. */
static int do_moves(int fd, struct fat_geom *g, unsigned char *fat, const struct moves *m)
{
    uint64_t hi = g->clusters + 2, csize = (uint64_t)g->spc * g->bps;
    unsigned char e[32], *buf = malloc(csize);
    int rc = buf ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < m->refs.n; i++) {
        if (pread(fd, e, 32, (off_t)m->refs.v[i]) != 32) {
            rc = -EIO;
            break;
        }
        uint32_t to = m->to[first_cluster(g, e) - m->end];
        put16(e + 26, to & 0xFFFF);
        if (g->bits == 32)
            put16(e + 20, to >> 16);
        rc = put(fd, e, 32, m->refs.v[i]);
    }
    for (uint64_t c = m->end; !rc && c < hi; c++) {
        if (!m->to[c - m->end])
            continue;
        if (pread(fd, buf, csize, (off_t)cluster_at(g, c)) != (ssize_t)csize)
            rc = -EIO;
        else
            rc = put(fd, buf, csize, cluster_at(g, m->to[c - m->end]));
    }
    free(buf);
    if (rc)
        return rc;
    for (uint64_t c = 2; c < hi; c++) {     /* links to moved clusters follow them */
        uint32_t v = entry(g, fat, c);
        if (v >= m->end && v < hi && v < mark_from(g->bits))
            set_entry(g, fat, c, m->to[v - m->end]);
    }
    for (uint64_t c = m->end; c < hi; c++)
        if (m->to[c - m->end]) {
            set_entry(g, fat, m->to[c - m->end], entry(g, fat, c));
            set_entry(g, fat, c, 0);
        }
    uint64_t root = g->bits == 32 ? le_get32(g->bs + 44) : 0;
    if (root >= m->end && root < hi)
        le_put32(g->bs + 44, m->to[root - m->end]);     /* written with the boot sector */
    for (uint32_t i = 0; !rc && i < g->nfats; i++)
        rc = put(fd, fat, (size_t)g->fatsz * g->bps, ((uint64_t)g->reserved + (uint64_t)i * g->fatsz) * g->bps);
    return rc;
}

/* Whether the FAT may shrink to total sectors: err says why not. Reads only. */
static int shrink_check(const char *path, const struct fat_geom *g, const unsigned char *fat, uint64_t total,
                        struct cb_error *err)
{
    uint64_t clusters = total > g->first_data ? (total - g->first_data) / g->spc : 0;
    uint64_t used = count_used(g, fat);
    char a[32];
    if (clusters < type_min(g->bits) && clusters < g->clusters) {
        units_format_bytes((g->first_data + type_min(g->bits) * g->spc) * g->bps, a, sizeof(a));
        return cb_error_set(err, -ENOSPC, "the %s in %s would keep %llu clusters, fewer than a %s may have (%llu): "
                            "it cannot shrink below %s", type_name(g->bits), path, (unsigned long long)clusters,
                            type_name(g->bits), (unsigned long long)type_min(g->bits), a);
    }
    if (used > clusters) {
        units_format_bytes((g->first_data + used * g->spc) * g->bps, a, sizeof(a));
        return cb_error_set(err, -ENOSPC, "the %s in %s uses %llu clusters, more than the %llu it would keep: it "
                            "cannot shrink below %s", type_name(g->bits), path, (unsigned long long)used,
                            (unsigned long long)clusters, a);
    }
    return 0;
}

static int shrink(int fd, const char *path, struct fat_geom *g, unsigned char *fat, uint64_t total,
                  struct cb_error *err)
{
    uint64_t clusters = (total - g->first_data) / g->spc;
    struct moves m = { 0 };
    int rc = 0;
    if (last_used(g, fat) >= clusters + 2) {
        rc = plan_moves(fd, g, fat, clusters + 2, &m);
        if (rc == -EINVAL)
            rc = cb_error_set(err, rc, "the directory tree of the %s in %s does not add up (fsck.fat would mend "
                              "it), so its clusters past the new end are not moved; nothing was changed",
                              type_name(g->bits), path);
        if (!rc)
            rc = do_moves(fd, g, fat, &m);
    }
    free(m.to);
    free(m.refs.v);
    if (!rc)
        rc = write_boot(fd, g, total, g->fatsz);
    return rc ? rc : write_fsinfo(fd, g, fat, clusters);
}

/* Entries from `from` to the end of the buffer of `bytes` set free: what lies
 * past a FAT's last cluster is not promised to be zero. */
static void clear_tail(const struct fat_geom *g, unsigned char *fat, uint64_t from, size_t bytes)
{
    uint64_t bit = from * (unsigned)g->bits, at = (bit + 7) / 8;
    if (bit % 8)
        fat[bit / 8] &= 0x0F;       /* FAT12: the entry's low nibble shares a byte with the one before */
    if (at < bytes)
        memset(fat + at, 0, bytes - at);
}

static int grow(int fd, struct fat_geom *g, unsigned char *fat, uint64_t total, char *note, size_t note_len)
{
    uint64_t fatsz, clusters;
    fit(g, total, &fatsz, &clusters);
    if (clusters < g->clusters)
        clusters = g->clusters, fatsz = g->fatsz;   /* past the type's end already: nothing to gain */
    uint64_t first = g->reserved + g->nfats * fatsz + g->root_sectors;
    int capped = first + (clusters + 1) * g->spc <= total && clusters == type_max(g->bits);
    if (capped) {
        char a[32], b[32];
        total = first + clusters * g->spc;
        units_format_bytes(total * g->bps, a, sizeof(a));
        units_format_bytes((uint64_t)g->spc * g->bps, b, sizeof(b));
        snprintf(note, note_len, "a %s with %s clusters addresses at most %s: the filesystem fills that much "
                 "of its partition", type_name(g->bits), b, a);
    }
    uint64_t by = (fatsz - g->fatsz) * g->nfats;
    int rc = by ? move_data(fd, g, fat, by) : 0;
    clear_tail(g, fat, g->clusters + 2, fatsz * g->bps);    /* fat was read with fatsz sectors of room */
    for (uint32_t i = 0; !rc && clusters > g->clusters && i < g->nfats; i++)
        rc = put(fd, fat, fatsz * g->bps, (g->reserved + i * fatsz) * g->bps);
    if (!rc)
        rc = write_boot(fd, g, total, fatsz);
    if (!rc)
        rc = write_fsinfo(fd, g, fat, clusters);
    return rc ? rc : capped;
}

int fat_resize_run(const char *path, uint64_t new_size, char *note, size_t note_len, struct cb_error *err)
{
    note[0] = '\0';
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return cb_error_set(err, -errno, "cannot open %s to resize its FAT: %s", path, strerror(errno));
    struct fat_geom g;
    off_t end = lseek(fd, 0, SEEK_END);
    int rc = end < 0 ? -errno : read_geom(fd, 0, (uint64_t)end, &g);
    if (rc) {
        close(fd);
        return cb_error_set(err, rc, "the FAT in %s %s", path,
                            rc == -EINVAL ? "is not one clonebay can resize" : "cannot be read");
    }
    uint64_t total = new_size / g.bps, fatsz, clusters;
    fit(&g, total, &fatsz, &clusters);
    unsigned char *fat = read_fat(fd, 0, &g, fatsz * g.bps);
    if (!fat) {
        close(fd);
        return cb_error_set(err, -EIO, "cannot read the FAT of %s", path);
    }
    if (total < g.total && (rc = shrink_check(path, &g, fat, total, err)) != 0)
        goto out;       /* nothing written */
    rc = total < g.total ? shrink(fd, path, &g, fat, total, err) : grow(fd, &g, fat, total, note, note_len);
    if (rc >= 0 && fsync(fd) != 0)
        rc = -errno;
    if (rc < 0 && rc != -EINVAL)
        cb_error_set(err, rc, "resizing the FAT in %s failed: %s", path, strerror(-rc));
out:
    free(fat);
    close(fd);
    return rc;
}
