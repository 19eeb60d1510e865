/* fs_owners for FAT12/16/32: the boot area, the FATs and a FAT12/16 root
 * directory are metadata; each file's clusters are found by following its
 * chain from its directory entry, walking the tree from the root (long
 * names read from their VFAT entries). */
#include "clone/fs/owners_part.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FAT_MAX_DIR = 2 << 20 };     /* 65,536 entries: the most a FAT directory may hold */

struct fat {
    struct owners_part *p;
    uint32_t bps, spc, reserved, nfats, fatsz, root_entries;
    uint64_t first_data, clusters, csize;   /* first_data in sectors */
    int bits;                               /* 12, 16, 32 */
    unsigned char *table;                   /* the FAT copy used */
    size_t table_bytes;
    unsigned char *dir_seen;                /* one bit per cluster: a damaged tree may loop */
    struct bad_units b;
    char path[4096];
};

static uint32_t fat_next(const struct fat *f, uint64_t c)
{
    if (f->bits == 32)
        return (c + 1) * 4 <= f->table_bytes ? le_get32(f->table + c * 4) & 0x0FFFFFFF : 0;
    if (f->bits == 16)
        return (c + 1) * 2 <= f->table_bytes ? le_get16(f->table + c * 2) : 0;
    if (c * 3 / 2 + 2 > f->table_bytes)
        return 0;
    uint32_t w = le_get16(f->table + c * 3 / 2);
    return c & 1 ? w >> 4 : w & 0xFFF;
}

static bool fat_valid(const struct fat *f, uint64_t c)
{
    return c >= 2 && c < f->clusters + 2;
}

static bool fat_free(void *ctx, uint64_t unit)
{
    return fat_next(ctx, unit + 2) == 0;
}

/* The unreadable bytes of the first max clusters of the chain from cluster c,
 * claimed. Stops where the chain leaves the volume; a chain that loops is
 * cut at max and counts each cluster once. */
static uint64_t claim_chain(struct fat *f, uint64_t c, uint64_t max)
{
    uint64_t bytes = 0;
    bad_units_next_owner(&f->b);
    for (uint64_t steps = 0; fat_valid(f, c) && steps < max && steps < f->clusters; steps++) {
        bytes += bad_units_claim(f->p, &f->b, c - 2, 1);
        c = fat_next(f, c);
    }
    return bytes;
}

/* A directory's bytes: the root region (c 0, FAT12/16) or a chain. */
static unsigned char *read_dir(struct fat *f, uint64_t c, size_t *len)
{
    *len = 0;
    if (!c) {
        size_t n = (size_t)f->root_entries * 32;
        unsigned char *buf = malloc(n ? n : 1);
        uint64_t at = ((uint64_t)f->reserved + (uint64_t)f->nfats * f->fatsz) * f->bps;
        if (buf && !owners_read(f->p, buf, n, at))
            *len = n;
        return buf;
    }
    unsigned char *buf = malloc(FAT_MAX_DIR);
    for (uint64_t steps = 0; buf && fat_valid(f, c) && *len + f->csize <= FAT_MAX_DIR && steps < f->clusters;
         steps++) {
        if (owners_read(f->p, buf + *len, f->csize, (f->first_data + (c - 2) * f->spc) * f->bps))
            break;
        *len += f->csize;
        c = fat_next(f, c);
    }
    return buf;
}


/* The 8.3 name, with the case Windows NT records in byte 12. */
static void short_name(const unsigned char *e, char *out)
{
    size_t n = 0;
    for (int i = 0; i < 8 && e[i] != ' '; i++)
        out[n++] = (char)((e[12] & 0x08) && e[i] >= 'A' && e[i] <= 'Z' ? e[i] + 32 : (i == 0 && e[0] == 0x05 ? 0xE5 : e[i]));
    if (e[8] != ' ')
        out[n++] = '.';
    for (int i = 8; i < 11 && e[i] != ' '; i++)
        out[n++] = (char)((e[12] & 0x10) && e[i] >= 'A' && e[i] <= 'Z' ? e[i] + 32 : e[i]);
    out[n] = '\0';
}

static void walk_dir(struct fat *f, uint64_t c);

static void walk_entries(struct fat *f, const unsigned char *d, size_t len)
{
    uint16_t lfn[260];
    int lfn_n = 0;
    unsigned lfn_sum = 0x100;
    for (size_t i = 0; i + 32 <= len && d[i]; i += 32) {
        const unsigned char *e = d + i;
        if (e[0] == 0xE5) {
            lfn_sum = 0x100;
            continue;
        }
        if ((e[11] & 0x3F) == 0x0F) {
            int seq = e[0] & 0x1F;
            if (e[0] & 0x40)
                lfn_n = seq * 13, lfn_sum = e[13], memset(lfn, 0xFF, sizeof(lfn));
            static const int at[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
            for (int k = 0; seq >= 1 && seq <= 20 && k < 13; k++)
                lfn[(seq - 1) * 13 + k] = le_get16(e + at[k]);
            continue;
        }
        if (e[11] & 0x08 || (e[0] == '.' && (e[1] == ' ' || e[1] == '.'))) {
            lfn_sum = 0x100;
            continue;
        }
        unsigned sum = 0;
        for (int k = 0; k < 11; k++)
            sum = (((sum & 1) << 7) + (sum >> 1) + e[k]) & 0xFF;
        char name[800];
        size_t n = 0;
        if (lfn_sum == sum)
            for (int k = 0; k < lfn_n && lfn[k] && lfn[k] != 0xFFFF && n + 3 < sizeof(name); k++)
                n += fs_put_utf8(name + n, lfn[k]);
        name[n] = '\0';
        if (!n)
            short_name(e, name);
        lfn_sum = 0x100;
        uint64_t first = le_get16(e + 26) | (f->bits == 32 ? (uint64_t)le_get16(e + 20) << 16 : 0);
        size_t at = strlen(f->path);
        if (at + 1 + strlen(name) >= sizeof(f->path))
            continue;
        snprintf(f->path + at, sizeof(f->path) - at, "/%s", name);
        /* A file's data is its size's worth of clusters; a directory's at most the largest one FAT allows. */
        uint64_t max = e[11] & 0x10 ? FAT_MAX_DIR / f->csize : (le_get32(e + 28) + f->csize - 1) / f->csize;
        owners_add(f->p, FS_OWNER_FILE, claim_chain(f, first, max), "%s", f->path);
        if (e[11] & 0x10)
            walk_dir(f, first);
        f->path[at] = '\0';
    }
}

/* Each directory once; the path's length bounds the depth. */
static void walk_dir(struct fat *f, uint64_t c)
{
    if (c) {
        if (!fat_valid(f, c) || (f->dir_seen[(c - 2) / 8] >> ((c - 2) % 8) & 1))
            return;
        f->dir_seen[(c - 2) / 8] |= (unsigned char)(1 << ((c - 2) % 8));
    }
    size_t len;
    unsigned char *d = read_dir(f, c, &len);
    if (d)
        walk_entries(f, d, len);
    else
        f->p->rc = -ENOMEM;
    free(d);
}

/* The boot sector's geometry, checked as fs_used checks it. */
static bool fat_geometry(struct fat *f, const unsigned char *bs)
{
    f->bps = le_get16(bs + 11), f->spc = bs[13], f->reserved = le_get16(bs + 14), f->nfats = bs[16];
    f->root_entries = le_get16(bs + 17);
    uint64_t total = le_get16(bs + 19) ? le_get16(bs + 19) : le_get32(bs + 32);
    f->fatsz = le_get16(bs + 22) ? le_get16(bs + 22) : le_get32(bs + 36);
    if ((f->bps != 512 && f->bps != 1024 && f->bps != 2048 && f->bps != 4096) || !f->spc ||
        (f->spc & (f->spc - 1)) || !f->reserved || f->nfats < 1 || f->nfats > 2 || !f->fatsz ||
        total * f->bps > f->p->size || (uint64_t)f->fatsz * f->bps > (256u << 20))
        return false;
    f->first_data = f->reserved + (uint64_t)f->nfats * f->fatsz + ((uint64_t)f->root_entries * 32 + f->bps - 1) / f->bps;
    if (f->first_data >= total)
        return false;
    f->clusters = (total - f->first_data) / f->spc;
    f->csize = (uint64_t)f->spc * f->bps;
    f->bits = !le_get16(bs + 22) ? 32 : f->clusters < 4085 ? 12 : 16;
    return true;
}

/* The FAT copy with no unreadable bytes (the first when both have some). */
static bool read_table(struct fat *f)
{
    f->table_bytes = (size_t)f->fatsz * f->bps;
    f->table = malloc(f->table_bytes);
    uint64_t at = (uint64_t)f->reserved * f->bps;
    for (uint32_t i = 1; i < f->nfats && owners_bad_in(f->p, at, f->table_bytes); i++)
        if (!owners_bad_in(f->p, at + (uint64_t)i * f->table_bytes, f->table_bytes))
            at += (uint64_t)i * f->table_bytes;
    return f->table && !owners_read(f->p, f->table, f->table_bytes, at);
}

static void fat_metadata(struct fat *f)
{
    struct owners_part *p = f->p;
    uint64_t fat_at = (uint64_t)f->reserved * f->bps, fat_bytes = (uint64_t)f->fatsz * f->bps;
    owners_add(p, FS_OWNER_METADATA, owners_bad_in(p, 0, fat_at), "boot sector and reserved sectors");
    for (uint32_t i = 0; i < f->nfats; i++)
        owners_add(p, FS_OWNER_METADATA, owners_bad_in(p, fat_at + i * fat_bytes, fat_bytes),
                   "file allocation table (copy %u)", i + 1);
    uint64_t root_at = fat_at + f->nfats * fat_bytes;
    owners_add(p, FS_OWNER_FILE, owners_bad_in(p, root_at, f->first_data * f->bps - root_at),
               "/ (the root directory)");
    uint64_t end = (f->first_data + f->clusters * f->spc) * f->bps;
    owners_add(p, FS_OWNER_FREE, owners_bad_in(p, end, p->size - end), "free space (past the end of the filesystem)");
}

int fs_owners_fat(struct owners_part *p)
{
    struct fat f = { .p = p };
    unsigned char bs[512];
    if (owners_read(p, bs, sizeof(bs), 0) || !fat_geometry(&f, bs))
        return 0;
    fat_metadata(&f);
    bool table = read_table(&f);
    f.dir_seen = calloc(f.clusters / 8 + 1, 1);
    if (!f.dir_seen || bad_units_build(&f.b, p, f.first_data * f.bps, f.csize, f.clusters)) {
        p->rc = -ENOMEM;
    } else if (!table) {
        owners_add(p, FS_OWNER_UNRESOLVED, owners_bad_in(p, f.first_data * f.bps, f.clusters * f.csize),
                   "could not be resolved: the file allocation table cannot be read");
    } else {
        if (f.bits == 32)
            owners_add(p, FS_OWNER_FILE, claim_chain(&f, le_get32(bs + 44), FAT_MAX_DIR / f.csize),
                       "/ (the root directory)");
        walk_dir(&f, f.bits == 32 ? le_get32(bs + 44) : 0);
        bad_units_rest(p, &f.b, fat_free, &f,
                       "could not be resolved: in use, but no file was found that owns it (its directory entry "
                       "may be damaged)");
    }
    bad_units_free(&f.b);
    free(f.dir_seen);
    free(f.table);
    return 1;
}

bool fat_sniff(const struct owners_part *p, char *fstype, size_t len)
{
    unsigned char b[512];
    if (owners_read(p, b, sizeof(b), 0) || b[510] != 0x55 || b[511] != 0xAA ||
        (memcmp(b + 54, "FAT", 3) && memcmp(b + 82, "FAT32", 5)))
        return false;
    snprintf(fstype, len, "vfat");
    return true;
}
