#include "clone/fs/owners_part.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *fs_owner_kind_name(enum fs_owner_kind k)
{
    static const char *const names[] = {
        [FS_OWNER_METADATA] = "metadata", [FS_OWNER_FILE] = "file", [FS_OWNER_UNRESOLVED] = "unresolved",
        [FS_OWNER_FREE] = "free", [FS_OWNER_OUTSIDE] = "outside",
    };
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* ---- the list: one entry per owner, found again through a hash index ---- */

static uint64_t key_hash(int part, enum fs_owner_kind kind, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(unsigned)part ^ ((uint64_t)kind << 32);
    for (const unsigned char *s = (const unsigned char *)name; *s; s++)
        h = (h ^ *s) * 0x100000001b3ull;
    return h;
}

static int list_grow(struct fs_owner_list *l)
{
    size_t cap = l->cap ? l->cap * 2 : 64;
    struct fs_owner *v = realloc(l->v, cap * sizeof(*v));
    size_t *slots = calloc(cap * 2, sizeof(*slots));
    if (!v || !slots) {
        if (v)
            l->v = v;
        free(slots);
        return -ENOMEM;
    }
    l->v = v;
    l->cap = cap;
    free(l->slots);
    l->slots = slots;
    l->nslots = cap * 2;
    for (size_t i = 0; i < l->count; i++) {
        size_t s = key_hash(v[i].partition, v[i].kind, v[i].name) % l->nslots;
        while (slots[s])
            s = (s + 1) % l->nslots;
        slots[s] = i + 1;
    }
    return 0;
}

static int list_add(struct fs_owner_list *l, int part, const char *fstype, enum fs_owner_kind kind,
                    const char *name, uint64_t bytes, const char *why)
{
    if (l->count == l->cap && list_grow(l))
        return -ENOMEM;
    size_t s = key_hash(part, kind, name) % l->nslots;
    for (; l->slots[s]; s = (s + 1) % l->nslots) {
        struct fs_owner *o = &l->v[l->slots[s] - 1];
        if (o->partition == part && o->kind == kind && !strcmp(o->name, name)) {
            o->bytes += bytes;
            if (!o->why)
                o->why = why;
            return 0;
        }
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    struct fs_owner *o = &l->v[l->count];
    *o = (struct fs_owner){ .kind = kind, .partition = part, .name = copy, .bytes = bytes, .why = why };
    snprintf(o->fstype, sizeof(o->fstype), "%s", fstype);
    l->slots[s] = ++l->count;
    return 0;
}

static int owner_cmp(const void *a, const void *b)
{
    const struct fs_owner *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->name, y->name);
}

void fs_owners_free(struct fs_owner_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->v[i].name);
    free(l->v);
    free(l->slots);
    *l = (struct fs_owner_list){ 0 };
}

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
    if (list_add(p->out, p->number, p->fstype, kind, name, bytes, why))
        p->rc = -ENOMEM;
}

int owners_read(const struct owners_part *p, void *buf, size_t len, uint64_t pos)
{
    if (pos > p->size || len > p->size - pos)
        return -EINVAL;
    return p->rd(p->rctx, buf, len, p->off + pos);
}

uint64_t owners_bad_in(const struct owners_part *p, uint64_t pos, uint64_t len)
{
    /* The first span that ends after pos, by bisection: lists run to 100,000 spans. */
    size_t lo = 0, hi = p->nbad;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->bad[mid].pos + p->bad[mid].len <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
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
    size_t lo = 0, hi = b->nruns;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b->runs[mid].first + b->runs[mid].count <= u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
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

/* ---- partitions ---- */

static const struct {
    const char *name;
    int (*find)(struct owners_part *p);
} fs_table[] = {
    { "ext", fs_owners_ext },
    { "vfat", fs_owners_fat },
    { "ntfs", fs_owners_ntfs },
    { "iso9660", fs_owners_iso },
};

/* Which filesystem the partition's own first bytes name ("" none). */
static void probe(struct owners_part *p)
{
    unsigned char b[2048];
    p->fstype[0] = '\0';
    if (owners_read(p, b, sizeof(b), 0))
        return;
    const unsigned char *sb = b + 1024;
    if (le_get16(sb + 0x38) == 0xEF53) {
        uint32_t compat = le_get32(sb + 0x5C), incompat = le_get32(sb + 0x60);
        snprintf(p->fstype, sizeof(p->fstype), "%s", incompat & 0x2C0 ? "ext4" : compat & 0x4 ? "ext3" : "ext2");
    } else if (!memcmp(b + 3, "NTFS    ", 8)) {
        snprintf(p->fstype, sizeof(p->fstype), "ntfs");
    } else if (b[510] == 0x55 && b[511] == 0xAA && (!memcmp(b + 54, "FAT", 3) || !memcmp(b + 82, "FAT32", 5))) {
        snprintf(p->fstype, sizeof(p->fstype), "vfat");
    } else if (!owners_read(p, b, 8, 16 * 2048) && !memcmp(b + 1, "CD001", 5)) {
        snprintf(p->fstype, sizeof(p->fstype), "iso9660");
    }
    /* Others, only to say what could not be looked into. */
    static const struct { uint32_t at; const char *magic; const char *name; } other[] = {
        { 3, "EXFAT   ", "exfat" }, { 0, "XFSB", "xfs" }, { 0x10040, "_BHRfS_M", "btrfs" },
        { 4086, "SWAPSPACE2", "swap" }, { 0, "LUKS\xba\xbe", "crypto_LUKS" }, { 3, "-FVE-FS-", "BitLocker" },
    };
    for (size_t i = 0; !p->fstype[0] && i < sizeof(other) / sizeof(other[0]); i++) {
        size_t n = strlen(other[i].magic);
        if (!owners_read(p, b, n, other[i].at) && !memcmp(b, other[i].magic, n))
            snprintf(p->fstype, sizeof(p->fstype), "%s", other[i].name);
    }
}

/* The bad spans of map in [off, off+size), relative to off. */
static int spans_in(const struct block_map *map, uint64_t off, uint64_t size, struct bad_span **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    uint64_t pos, len;
    for (uint64_t at = off; at < off + size && map_find(map, at, "-", &pos, &len) && pos < off + size;
         at = pos + len) {
        uint64_t z = pos + len < off + size ? pos + len : off + size;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            struct bad_span *s = realloc(*out, cap * sizeof(*s));
            if (!s)
                return -ENOMEM;
            *out = s;
        }
        (*out)[(*n)++] = (struct bad_span){ pos - off, z - pos };
    }
    return 0;
}

static int find_in_part(struct owners_part p, const struct fs_owner_part *fp, const struct block_map *map)
{
    p.number = fp->number;
    p.off = fp->start;
    p.size = fp->size;
    struct bad_span *spans;
    int rc = spans_in(map, fp->start, fp->size, &spans, &p.nbad);
    p.bad = spans;
    if (rc || !p.nbad) {
        free(spans);
        return rc;
    }
    probe(&p);
    int found = 0;
    bool known = false;
    for (size_t i = 0; p.fstype[0] && !found && i < sizeof(fs_table) / sizeof(fs_table[0]); i++)
        if (!strncmp(p.fstype, fs_table[i].name, strlen(fs_table[i].name))) {
            known = true;
            found = fs_table[i].find(&p);
        }
    if (!found && !strcmp(p.fstype, "swap"))
        owners_add(&p, FS_OWNER_FREE, owners_bad_in(&p, 0, p.size), "swap space (no files are kept there)");
    else if (!found && known)
        owners_add(&p, FS_OWNER_UNRESOLVED, owners_bad_in(&p, 0, p.size),
                   "could not be resolved: the %s filesystem's first sectors are damaged", p.fstype);
    else if (!found && p.fstype[0])
        owners_add(&p, FS_OWNER_UNRESOLVED, owners_bad_in(&p, 0, p.size),
                   "could not be resolved: clonebay cannot look into %s filesystems", p.fstype);
    else if (!found)
        owners_add(&p, FS_OWNER_UNRESOLVED, owners_bad_in(&p, 0, p.size), "could not be resolved: %s",
                   owners_bad_in(&p, 0, 128 << 10) ? "no filesystem was recognised, and its first sectors are "
                   "among the unreadable ones" : "no filesystem clonebay can look into (ext2/3/4, FAT, NTFS, "
                   "ISO 9660) was found in it");
    free(spans);
    return p.rc;
}

/* Bytes of [pos, pos+len) inside some partition: hybrid discs nest theirs. */
static uint64_t covered(const struct fs_owner_part *parts, size_t n, uint64_t pos, uint64_t len)
{
    uint64_t done = 0, at = pos, end = pos + len;
    while (at < end) {
        /* The partition holding at that reaches furthest, else the next one to start. */
        uint64_t reach = at, next = end;
        for (size_t i = 0; i < n; i++) {
            uint64_t a = parts[i].start, z = parts[i].start + parts[i].size;
            if (a <= at && z > reach)
                reach = z;
            else if (a > at && a < next)
                next = a;
        }
        if (reach > at) {
            reach = reach < end ? reach : end;
            done += reach - at;
            at = reach;
        } else {
            at = next;
        }
    }
    return done;
}

static int fd_read(void *ctx, void *buf, size_t len, uint64_t off)
{
    ssize_t r = pread(*(int *)ctx, buf, len, (off_t)off);
    return r == (ssize_t)len ? 0 : r < 0 ? -errno : -EIO;
}

int fs_owners_find(const char *path, const struct fs_owner_part *parts, size_t nparts,
                   const struct block_map *map, struct fs_owner_list *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        int rc = fs_owners_find_fn(fd_read, &fd, path, parts, nparts, map, out);
        close(fd);
        return rc;
    }
    /* Nothing can be looked up: every bad range says why. */
    int e = errno;
    (void)parts, (void)nparts;
    *out = (struct fs_owner_list){ 0 };
    struct owners_part p = { .name = path, .size = map->size, .out = out };
    uint64_t pos, len;
    for (uint64_t at = 0; !p.rc && map_find(map, at, "-", &pos, &len); at = pos + len)
        owners_add(&p, FS_OWNER_UNRESOLVED, len, "could not be resolved: the copy %s cannot be opened (%s)", path,
                   strerror(e));
    free(out->slots);
    out->slots = NULL;
    return p.rc;
}

int fs_owners_find_fn(fs_owners_read_fn rd, void *ctx, const char *name, const struct fs_owner_part *parts,
                      size_t nparts, const struct block_map *map, struct fs_owner_list *out)
{
    *out = (struct fs_owner_list){ 0 };
    struct fs_owner_part whole = { .number = 0, .start = 0, .size = map->size };
    if (!nparts) {
        parts = &whole;
        nparts = 1;
    }
    int rc = 0;
    struct owners_part disk = { .rd = rd, .rctx = ctx, .name = name, .size = map->size, .out = out };
    /* Outside every partition: walk the bad ranges, less what partitions cover. */
    uint64_t pos, len;
    for (uint64_t at = 0; rc == 0 && map_find(map, at, "-", &pos, &len); at = pos + len) {
        owners_add(&disk, FS_OWNER_OUTSIDE, len - covered(parts, nparts, pos, len), "outside every partition");
        rc = disk.rc;
    }
    for (size_t i = 0; rc == 0 && i < nparts; i++)
        rc = find_in_part(disk, &parts[i], map);
    free(out->slots);
    out->slots = NULL;
    out->nslots = 0;
    if (out->count)
        qsort(out->v, out->count, sizeof(out->v[0]), owner_cmp);
    return rc;
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
