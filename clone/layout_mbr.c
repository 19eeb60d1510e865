/* layout_mbr: DOS partition tables: four primary entries in sector 0, and a
 * chain of extended boot records (EBRs) for the logical partitions, each EBR
 * sitting just before its logical partition inside the extended one. */
#include "clone/io.h"
#include "clone/layout.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PT = 446, E_TYPE = 4, E_LBA = 8, E_COUNT = 12 };


static int add(struct layout *l, const char *name, int number, uint64_t lba, uint64_t count, unsigned type,
               struct cb_error *err)
{
    if (l->nparts >= LAYOUT_MAX_PARTS || (lba + count) * l->sector > l->disk_size || count == 0)
        return cb_error_set(err, -EINVAL, "MBR partition %d of %s lies outside the disk", number, name);
    struct layout_part *p = &l->parts[l->nparts++];
    p->number = number;
    p->start = lba * l->sector;
    p->size = count * l->sector;
    p->extended = layout_mbr_extended(type);
    p->logical = number > 4;
    snprintf(p->type, sizeof(p->type), "0x%02x", type);
    return 0;
}

/* The logical partitions: follow the EBR chain (entry 0: the partition,
 * relative to its EBR; entry 1: the next EBR, relative to the extended start). */
static int read_logicals(struct layout *l, layout_read_fn rd, void *ctx, const char *name, uint64_t ext_lba,
                         uint64_t ext_count, struct cb_error *err)
{
    unsigned char ebr[512];
    uint64_t at = ext_lba;
    for (int number = 5; number < 5 + LAYOUT_MAX_PARTS; number++) {
        int rc = rd(ctx, ebr, 512, at * l->sector);
        if (rc)
            return cb_error_set(err, rc, "cannot read the extended boot record of %s at sector %llu", name,
                                (unsigned long long)at);
        if (ebr[510] != 0x55 || ebr[511] != 0xAA)
            return cb_error_set(err, -EINVAL, "the extended boot record of %s at sector %llu is damaged", name,
                                (unsigned long long)at);
        const unsigned char *e0 = ebr + PT, *e1 = ebr + PT + 16;
        if (e0[E_TYPE] && le_get32(e0 + E_COUNT)) {
            rc = add(l, name, number, at + le_get32(e0 + E_LBA), le_get32(e0 + E_COUNT), e0[E_TYPE], err);
            if (rc)
                return rc;
            l->parts[l->nparts - 1].ebr = at * l->sector;
            memcpy(l->parts[l->nparts - 1].ebr_bytes, ebr, 512);
        }
        uint64_t next = le_get32(e1 + E_LBA);
        if (!layout_mbr_extended(e1[E_TYPE]) || next == 0)
            return 0;
        if (next >= ext_count)
            return cb_error_set(err, -EINVAL, "the EBR chain of %s leaves its extended partition", name);
        at = ext_lba + next;
    }
    return cb_error_set(err, -EINVAL, "the EBR chain of %s does not end", name);
}

static int cmp_start(const void *a, const void *b)
{
    const struct layout_part *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return y->extended - x->extended;   /* a container before the logical at its start */
}

static int mbr_read(struct layout *l, layout_read_fn rd, void *ctx, const char *name, struct cb_error *err)
{
    for (int k = 0; k < 4; k++) {
        const unsigned char *e = l->mbr + PT + 16 * k;
        uint64_t lba = le_get32(e + E_LBA), count = le_get32(e + E_COUNT);
        if (!e[E_TYPE] || !count)
            continue;
        int rc = add(l, name, k + 1, lba, count, e[E_TYPE], err);
        if (!rc && layout_mbr_extended(e[E_TYPE]))
            rc = read_logicals(l, rd, ctx, name, lba, count, err);
        if (rc)
            return rc;
    }
    qsort(l->parts, l->nparts, sizeof(l->parts[0]), cmp_start);
    return 0;
}

/* CHS as fdisk writes it (255 heads, 63 sectors), or the "use LBA" marker. */
static void put_chs(unsigned char *p, uint64_t lba)
{
    uint64_t c = lba / (255 * 63), h = lba / 63 % 255, s = lba % 63 + 1;
    if (c > 1023) {
        p[0] = 0xfe, p[1] = 0xff, p[2] = 0xff;
        return;
    }
    p[0] = (unsigned char)h;
    p[1] = (unsigned char)(s | ((c >> 2) & 0xc0));
    p[2] = (unsigned char)(c & 0xff);
}

static void put_entry(unsigned char *e, uint64_t lba, uint64_t count, uint64_t abs_lba)
{
    le_put32(e + E_LBA, (uint32_t)lba);
    le_put32(e + E_COUNT, (uint32_t)count);
    put_chs(e + 1, abs_lba);
    put_chs(e + 5, abs_lba + count - 1);
}

static int mbr_write(const struct layout *l, struct io_dev *t, struct cb_error *err)
{
    unsigned ss = l->sector;
    unsigned char mbr[512];
    memcpy(mbr, l->mbr, sizeof(mbr));
    const struct layout_part *ext = NULL;
    for (size_t i = 0; i < l->nparts; i++) {
        const struct layout_part *p = &l->parts[i];
        if (p->extended)
            ext = p;
        if (!p->logical)
            put_entry(mbr + PT + 16 * (p->number - 1), p->new_start / ss, p->new_size / ss, p->new_start / ss);
    }
    int rc = layout_put(t, mbr, 512, 0, err);
    /* Rebuild the EBR chain at the planned places: each EBR keeps its boot
     * code and signature from the source's, entries 0 and 1 are rewritten. */
    for (size_t i = 0; !rc && ext && i < l->nparts; i++) {
        const struct layout_part *p = &l->parts[i];
        if (!p->logical)
            continue;
        const struct layout_part *next = NULL;
        for (size_t j = i + 1; j < l->nparts && !next; j++)
            if (l->parts[j].logical)
                next = &l->parts[j];
        unsigned char ebr[512];
        memcpy(ebr, p->ebr_bytes, 512);
        uint64_t at = p->new_ebr / ss;
        memset(ebr + PT, 0, 64);
        ebr[PT + E_TYPE] = (unsigned char)strtoul(p->type + 2, NULL, 16);
        put_entry(ebr + PT, p->new_start / ss - at, p->new_size / ss, p->new_start / ss);
        if (next) {
            uint64_t nat = next->new_ebr / ss, ext_lba = ext->new_start / ss;
            ebr[PT + 16 + E_TYPE] = 0x05;
            put_entry(ebr + PT + 16, nat - ext_lba, next->new_start / ss + next->new_size / ss - nat, nat);
        }
        ebr[510] = 0x55, ebr[511] = 0xAA;
        rc = layout_put(t, ebr, 512, at * ss, err);
    }
    return rc;
}

const struct layout_ops layout_mbr_ops = { .read = mbr_read, .write = mbr_write };
