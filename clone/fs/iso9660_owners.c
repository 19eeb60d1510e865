/* fs_owners for ISO 9660 discs (data CDs, DVDs, the ISOs `image` and the
 * disc archive make): the system area, volume descriptors and path tables
 * are metadata; every file and directory is one extent (or several, for a
 * multi-extent file) named from the directory tree, with Joliet's long names
 * when the disc has them, else Rock Ridge's, else the plain ISO names. */
#include "clone/fs/owners_part.h"
#include "clone/fs/fs.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct iso {
    struct owners_part *p;
    uint64_t bs, blocks;
    bool joliet;
    bool damaged;           /* a directory could not be read whole: what no file holds may be a lost file's */
    struct bad_units b;
    uint32_t *seen;         /* directory extents entered, an open-addressed set: a damaged tree may loop */
    size_t nseen, cap;
    char path[4096];
};

static bool seen_add(struct iso *s, uint32_t lba)
{
    if (s->nseen * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        uint32_t *t = calloc(cap, sizeof(*t));
        if (!t)
            return false;
        for (size_t i = 0; i < s->cap; i++)
            if (s->seen[i]) {
                size_t k = s->seen[i] * 2654435761u % cap;
                while (t[k])
                    k = (k + 1) % cap;
                t[k] = s->seen[i];
            }
        free(s->seen);
        s->seen = t;
        s->cap = cap;
    }
    size_t k = lba * 2654435761u % s->cap;
    for (; s->seen[k]; k = (k + 1) % s->cap)
        if (s->seen[k] == lba)
            return false;
    s->seen[k] = lba;
    s->nseen++;
    return true;
}


/* A directory record's name: Joliet (UCS-2 big-endian), a Rock Ridge NM
 * entry, or the ISO name without its ";1" version. */
static void record_name(const struct iso *s, const unsigned char *r, char *out, size_t len)
{
    unsigned nlen = r[32];
    const unsigned char *n = r + 33;
    size_t k = 0;
    if (s->joliet) {
        for (unsigned i = 0; i + 1 < nlen && k + 4 < len; i += 2) {
            uint16_t u = (uint16_t)(n[i] << 8 | n[i + 1]);
            if (u == ';')
                break;
            k += fs_put_utf8(out + k, u);
        }
        out[k] = '\0';
        return;
    }
    /* Rock Ridge: SUSP entries after the name (padded to an even offset). */
    for (unsigned at = 33 + nlen + !(nlen & 1); at + 5 <= r[0];) {
        const unsigned char *e = r + at;
        if (e[2] < 4 || at + e[2] > r[0])
            break;
        if (e[0] == 'N' && e[1] == 'M' && !(e[4] & 0x06))
            for (unsigned i = 5; i < e[2] && k + 1 < len; i++)
                out[k++] = (char)e[i];
        at += e[2];
    }
    if (k) {
        out[k] = '\0';
        return;
    }
    for (unsigned i = 0; i < nlen && n[i] != ';' && k + 1 < len; i++)
        out[k++] = (char)n[i];
    if (k && out[k - 1] == '.')
        k--;
    out[k] = '\0';
}

static uint64_t claim_extent(struct iso *s, uint32_t lba, uint32_t size)
{
    uint64_t n = (size + s->bs - 1) / s->bs;
    bad_units_next_owner(&s->b);
    return lba < s->blocks ? bad_units_claim(s->p, &s->b, lba, n < s->blocks - lba ? n : s->blocks - lba) : 0;
}

static void walk_dir(struct iso *s, uint32_t lba, uint32_t size)
{
    if (lba < 17 || lba >= s->blocks || size > (64u << 20) || !seen_add(s, lba))
        return;
    unsigned char *d = malloc(size ? size : 1);
    if (!d) {
        s->p->rc = -ENOMEM;
        return;
    }
    /* A directory with unreadable sectors reads as zeros there: the records in them are lost. */
    if (bad_units_any(&s->b, lba, (size + s->bs - 1) / s->bs) || owners_read(s->p, d, size, lba * s->bs)) {
        s->damaged = true;
        if (owners_read(s->p, d, size, lba * s->bs)) {
            free(d);
            return;
        }
    }
    for (uint32_t at = 0; at + 34 <= size;) {
        const unsigned char *r = d + at;
        if (!r[0]) {        /* records do not cross a block: the rest of this one is padding */
            at = (uint32_t)((at / s->bs + 1) * s->bs);
            continue;
        }
        if (r[0] < 34 || at + r[0] > size || 33u + r[32] > r[0]) {
            s->damaged = true;
            break;
        }
        at += r[0];
        if (r[32] == 1 && (r[33] == 0 || r[33] == 1))
            continue;       /* "." and ".." */
        char name[1024];
        record_name(s, r, name, sizeof(name));
        size_t k = strlen(s->path);
        if (k + 1 + strlen(name) >= sizeof(s->path))
            continue;
        snprintf(s->path + k, sizeof(s->path) - k, "/%s", name);
        uint32_t elba = le_get32(r + 2), esize = le_get32(r + 10);
        owners_add(s->p, FS_OWNER_FILE, claim_extent(s, elba, esize), "%s", s->path);
        if (r[25] & 0x02)
            walk_dir(s, elba, esize);
        s->path[k] = '\0';
    }
    free(d);
}

static bool iso_free(void *ctx, uint64_t unit)
{
    (void)ctx, (void)unit;
    return true;
}

/* 1 when the partition holds an ISO 9660 volume (its findings listed). */
int fs_owners_iso(struct owners_part *p)
{
    unsigned char vd[2048], root[34];
    struct iso s = { .p = p, .bs = 2048 };
    bool pvd = false;
    uint64_t vd_end = 17 * 2048;
    uint32_t path_tables[4] = { 0 }, pt_size = 0;
    for (uint64_t at = 16 * 2048; at < 16 * 2048 + 64 * 2048 && !owners_read(p, vd, sizeof(vd), at); at += 2048) {
        if (memcmp(vd + 1, "CD001", 5))
            break;
        vd_end = at + 2048;
        if (vd[0] == 255)
            break;
        if (vd[0] == 1 && !pvd) {
            pvd = true;
            s.bs = le_get16(vd + 128);
            s.blocks = le_get32(vd + 80);
            memcpy(root, vd + 156, sizeof(root));
            pt_size = le_get32(vd + 132);
            path_tables[0] = le_get32(vd + 140), path_tables[1] = le_get32(vd + 144);
            path_tables[2] = (uint32_t)vd[148] << 24 | vd[149] << 16 | vd[150] << 8 | vd[151];
            path_tables[3] = (uint32_t)vd[152] << 24 | vd[153] << 16 | vd[154] << 8 | vd[155];
        } else if (vd[0] == 2 && vd[88] == '%' && vd[89] == '/' && (vd[90] == '@' || vd[90] == 'C' || vd[90] == 'E')) {
            s.joliet = true;
            memcpy(root, vd + 156, sizeof(root));
        }
    }
    if (!pvd || (s.bs != 512 && s.bs != 1024 && s.bs != 2048) || !s.blocks)
        return 0;
    if (s.blocks * s.bs > p->size)
        s.blocks = p->size / s.bs;
    owners_add(p, FS_OWNER_METADATA, owners_bad_in(p, 0, 16 * 2048), "system area (boot code, hybrid partition table)");
    owners_add(p, FS_OWNER_METADATA, owners_bad_in(p, 16 * 2048, vd_end - 16 * 2048), "volume descriptors");
    owners_add(p, FS_OWNER_FREE, owners_bad_in(p, s.blocks * s.bs, p->size - s.blocks * s.bs),
               "free space (past the end of the filesystem)");
    if (bad_units_build(&s.b, p, 0, s.bs, s.blocks)) {
        p->rc = -ENOMEM;
        return 1;
    }
    bad_units_claim(p, &s.b, 0, (vd_end + s.bs - 1) / s.bs);
    for (int i = 0; i < 4; i++)
        if (path_tables[i])
            owners_add(p, FS_OWNER_METADATA, claim_extent(&s, path_tables[i], pt_size), "path table");
    owners_add(p, FS_OWNER_FILE, claim_extent(&s, le_get32(root + 2), le_get32(root + 10)), "/ (the root directory)");
    walk_dir(&s, le_get32(root + 2), le_get32(root + 10));
    /* With every directory read whole, what no file holds is padding (or a boot image only the firmware knows). */
    bad_units_rest(p, &s.b, s.damaged ? NULL : iso_free, NULL,
                   "could not be resolved: no file or directory on the disc holds it, and a damaged directory may "
                   "have named it");
    bad_units_free(&s.b);
    free(s.seen);
    return 1;
}

/* The primary volume descriptor's "CD001" at sector 16 (of 2 KiB). */
static bool iso_sniff(const struct owners_part *p, char *fstype, size_t len)
{
    unsigned char b[8];
    if (owners_read(p, b, sizeof(b), 16 * 2048) || memcmp(b + 1, "CD001", 5))
        return false;
    snprintf(fstype, len, "iso9660");
    return true;
}

static bool iso_probe(const char *fstype)
{
    return !strcmp(fstype, "iso9660");
}

/* Discs: clonebay names the files an unreadable sector belongs to, nothing more. */
const struct fs_ops fs_iso9660_ops = {
    .name = "iso9660", .probe = iso_probe, .sniff = iso_sniff, .owners = fs_owners_iso,
};
