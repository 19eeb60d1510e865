/* layout: reading a table (dispatch by type) and questions about a plan. */
#include "clone/io.h"
#include "clone/layout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *layout_kind_name(enum layout_kind kind)
{
    return kind == LAYOUT_GPT ? "gpt" : kind == LAYOUT_MBR ? "dos" : "none";
}

bool layout_boot_type(const char *type)
{
    return !strcasecmp(type, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b") ||     /* EFI system */
           !strcasecmp(type, "21686148-6449-6e6f-744e-656564454649") ||     /* BIOS boot */
           !strcasecmp(type, "0xef");                                        /* MBR EFI */
}

bool layout_msr_type(const char *type)
{
    return !strcasecmp(type, "e3c9e316-0b5c-4db8-817d-f92df00215ae");
}

bool layout_mbr_extended(unsigned type)
{
    return type == 0x05 || type == 0x0f || type == 0x85;
}

bool layout_extended_type(const char *type)
{
    char *end;
    unsigned long t = strncasecmp(type, "0x", 2) ? 0 : strtoul(type + 2, &end, 16);
    return t && !*end && layout_mbr_extended((unsigned)t);
}

int layout_read_io(void *dev, void *buf, size_t len, uint64_t off)
{
    ssize_t r = io_pread(dev, buf, len, off);
    return r == (ssize_t)len ? 0 : r < 0 ? (int)r : -EIO;
}

int layout_read(struct layout *l, layout_read_fn rd, void *ctx, const char *name, uint64_t disk_size,
                unsigned sector, struct cb_error *err)
{
    memset(l, 0, sizeof(*l));
    l->sector = sector;
    l->disk_size = disk_size;
    if (sector < 512 || sector > 4096 || disk_size < 4ull * sector)
        return 0;
    int rc = rd(ctx, l->mbr, sector, 0);
    if (rc)
        return cb_error_set(err, rc, "cannot read the partition table of %s", name);
    if (l->mbr[510] != 0x55 || l->mbr[511] != 0xAA)
        return 0;
    bool protective = false, any = false;
    for (int k = 0; k < 4; k++) {
        unsigned type = l->mbr[446 + 16 * k + 4];
        protective |= type == 0xEE;
        any |= type != 0;
    }
    /* A FAT or NTFS boot sector also ends in 55 AA: its "entries" are code.
     * A real MBR has status bytes of 0x00 or 0x80 only. */
    for (int k = 0; k < 4 && any; k++) {
        unsigned status = l->mbr[446 + 16 * k];
        if (status != 0 && status != 0x80)
            return 0;
    }
    if (!any)
        return 0;
    l->kind = protective ? LAYOUT_GPT : LAYOUT_MBR;
    const struct layout_ops *ops = protective ? &layout_gpt_ops : &layout_mbr_ops;
    rc = ops->read(l, rd, ctx, name, err);
    if (rc) {
        layout_free(l);
        return rc;
    }
    return 0;
}

void layout_free(struct layout *l)
{
    free(l->gpt_entries);
    l->gpt_entries = NULL;
}

int layout_copy(struct layout *dst, const struct layout *src)
{
    *dst = *src;
    dst->gpt_entries = NULL;
    size_t n = (size_t)src->gpt_nentries * src->gpt_entry_size;
    if (src->gpt_entries && n) {
        if (!(dst->gpt_entries = malloc(n)))
            return -ENOMEM;
        memcpy(dst->gpt_entries, src->gpt_entries, n);
    }
    return 0;
}

int layout_put(struct io_dev *t, const void *buf, size_t len, uint64_t off, struct cb_error *err)
{
    ssize_t w = io_pwrite(t, buf, len, off);
    if (w == (ssize_t)len)
        return 0;
    int e = w < 0 ? (int)w : -EIO;
    return cb_error_set(err, e, "cannot write the partition table of %s at byte %llu: %s", t->path,
                        (unsigned long long)off, strerror(-e));
}

int layout_write(const struct layout *l, struct io_dev *target, struct cb_error *err)
{
    const struct layout_ops *ops = l->kind == LAYOUT_GPT ? &layout_gpt_ops : &layout_mbr_ops;
    return l->kind == LAYOUT_NONE ? 0 : ops->write(l, target, err);
}

uint64_t layout_tail_bytes(const struct layout *l)
{
    if (l->kind != LAYOUT_GPT)
        return 0;
    uint64_t bytes = (uint64_t)l->gpt_nentries * l->gpt_entry_size;
    return ((bytes + l->sector - 1) / l->sector + 1) * l->sector;
}

uint64_t layout_head_bytes(const struct layout *l)
{
    uint64_t head = l->disk_size;
    for (size_t i = 0; i < l->nparts; i++)
        if (l->parts[i].start < head)
            head = l->parts[i].start;
    return l->nparts ? head : 0;
}

bool layout_changes(const struct layout *l)
{
    if (l->new_disk_size != l->disk_size)
        return true;
    for (size_t i = 0; i < l->nparts; i++)
        if (l->parts[i].new_start != l->parts[i].start || l->parts[i].new_size != l->parts[i].size)
            return true;
    return false;
}
