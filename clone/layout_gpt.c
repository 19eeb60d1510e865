/* layout_gpt: GUID partition tables (UEFI spec, chapter 5). */
#include "clone/gpt_fix.h"
#include "clone/io.h"
#include "clone/layout.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    H_SIZE = 12, H_CRC = 16, H_MY_LBA = 24, H_ALT_LBA = 32, H_LAST_USABLE = 48,
    H_ENTRIES_LBA = 72, H_NENTRIES = 80, H_ENTRY_SIZE = 84, H_ENTRIES_CRC = 88,
    E_FIRST = 32, E_LAST = 40,
};

static void guid_string(const unsigned char *g, char *out, size_t len)
{
    snprintf(out, len, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", le_get32(g), le_get16(g + 4),
             le_get16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static int cmp_start(const void *a, const void *b)
{
    const struct layout_part *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int gpt_read(struct layout *l, layout_read_fn rd, void *ctx, const char *name, struct cb_error *err)
{
    unsigned ss = l->sector;
    unsigned char *hdr = l->gpt_header;
    int rc = rd(ctx, hdr, 512, ss);
    if (rc)
        return cb_error_set(err, rc, "cannot read the GPT header of %s", name);
    uint32_t hsize = le_get32(hdr + H_SIZE), crc = le_get32(hdr + H_CRC);
    unsigned char tmp[512];
    memcpy(tmp, hdr, 512);
    le_put32(tmp + H_CRC, 0);
    if (memcmp(hdr, "EFI PART", 8) != 0 || hsize < 92 || hsize > 512 || gpt_crc32(tmp, hsize) != crc)
        return cb_error_set(err, -EINVAL, "%s has a protective MBR but its GPT header is damaged "
                            "(run 'sgdisk -v %s'); use --mode raw --resize keep to copy it as it is", name, name);
    l->gpt_nentries = le_get32(hdr + H_NENTRIES);
    l->gpt_entry_size = le_get32(hdr + H_ENTRY_SIZE);
    l->gpt_entries_lba = le_get64(hdr + H_ENTRIES_LBA);
    size_t bytes = (size_t)l->gpt_nentries * l->gpt_entry_size;
    if (l->gpt_entry_size < 128 || l->gpt_entry_size > 4096 || l->gpt_nentries == 0 || bytes > (1u << 20) ||
        l->gpt_entries_lba < 2 || l->gpt_entries_lba * ss + bytes > l->disk_size)
        return cb_error_set(err, -EINVAL, "the GPT header of %s describes an impossible entry array", name);
    l->gpt_entries = malloc(bytes);
    if (!l->gpt_entries)
        return cb_error_set(err, -ENOMEM, "out of memory reading the GPT of %s", name);
    rc = rd(ctx, l->gpt_entries, bytes, l->gpt_entries_lba * ss);
    if (rc)
        return cb_error_set(err, rc, "cannot read the GPT entries of %s", name);
    if (gpt_crc32(l->gpt_entries, bytes) != le_get32(hdr + H_ENTRIES_CRC))
        return cb_error_set(err, -EINVAL, "the GPT entries of %s fail their checksum (run 'sgdisk -v %s')",
                            name, name);
    for (uint32_t i = 0; i < l->gpt_nentries; i++) {
        const unsigned char *e = l->gpt_entries + (size_t)i * l->gpt_entry_size;
        if (all_zero(e, 16))
            continue;
        uint64_t first = le_get64(e + E_FIRST), last = le_get64(e + E_LAST);
        if (l->nparts >= LAYOUT_MAX_PARTS || last < first || (last + 1) * ss > l->disk_size)
            return cb_error_set(err, -EINVAL, "GPT entry %u of %s lies outside the disk", i + 1, name);
        struct layout_part *p = &l->parts[l->nparts++];
        p->number = (int)i + 1;
        p->start = first * ss;
        p->size = (last - first + 1) * ss;
        guid_string(e, p->type, sizeof(p->type));
    }
    qsort(l->parts, l->nparts, sizeof(l->parts[0]), cmp_start);
    return 0;
}

static int gpt_write(const struct layout *l, struct io_dev *t, struct cb_error *err)
{
    unsigned ss = l->sector;
    size_t bytes = (size_t)l->gpt_nentries * l->gpt_entry_size;
    uint64_t esec = (bytes + ss - 1) / ss, last = l->new_disk_size / ss - 1;
    unsigned char *ent = io_alloc(esec * ss), *sec = io_alloc(2 * ss);
    if (!ent || !sec) {
        io_free(ent);
        io_free(sec);
        return cb_error_set(err, -ENOMEM, "out of memory writing the GPT of %s", t->path);
    }
    memset(ent, 0, esec * ss);
    memcpy(ent, l->gpt_entries, bytes);
    for (size_t i = 0; i < l->nparts; i++) {
        const struct layout_part *p = &l->parts[i];
        unsigned char *e = ent + (size_t)(p->number - 1) * l->gpt_entry_size;
        le_put64(e + E_FIRST, p->new_start / ss);
        le_put64(e + E_LAST, (p->new_start + p->new_size) / ss - 1);
    }
    uint32_t hsize = le_get32(l->gpt_header + H_SIZE);
    unsigned char *mbr = sec, *hdr = sec + ss;
    memset(sec, 0, 2 * ss);
    memcpy(mbr, l->mbr, ss);
    memcpy(hdr, l->gpt_header, 512);
    /* Protective MBR: its 0xEE entry covers the whole target. */
    for (int k = 0; k < 4; k++)
        if (mbr[446 + 16 * k + 4] == 0xEE)
            le_put32(mbr + 446 + 16 * k + 12, last > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)last);
    le_put64(hdr + H_ALT_LBA, last);
    le_put64(hdr + H_LAST_USABLE, last - esec - 1);
    le_put32(hdr + H_ENTRIES_CRC, gpt_crc32(ent, bytes));
    le_put32(hdr + H_CRC, 0);
    le_put32(hdr + H_CRC, gpt_crc32(hdr, hsize));
    int rc = layout_put(t, sec, 2 * ss, 0, err);
    if (!rc)
        rc = layout_put(t, ent, esec * ss, l->gpt_entries_lba * ss, err);
    if (!rc)
        rc = layout_put(t, ent, esec * ss, (last - esec) * ss, err);
    /* The backup header: the primary seen from the other end. */
    le_put64(hdr + H_MY_LBA, last);
    le_put64(hdr + H_ALT_LBA, 1);
    le_put64(hdr + H_ENTRIES_LBA, last - esec);
    le_put32(hdr + H_CRC, 0);
    le_put32(hdr + H_CRC, gpt_crc32(hdr, hsize));
    if (!rc)
        rc = layout_put(t, hdr, ss, last * ss, err);
    io_free(ent);
    io_free(sec);
    return rc;
}

uint64_t layout_gpt_alt_lba(const struct layout *l)
{
    return le_get64(l->gpt_header + H_ALT_LBA);
}

const struct layout_ops layout_gpt_ops = { .read = gpt_read, .write = gpt_write };
