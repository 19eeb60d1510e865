#include "clone/gpt_fix.h"
#include "clone/layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t gpt_crc32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The table as copied, rewritten for the target's size with every partition
 * where it is (layout_write does the GPT work), then the old backup, now in
 * the middle of the disk, wiped so no tool mistakes it for a live one. */
int gpt_relocate_backup(struct io_dev *t, struct cb_error *err)
{
    /* Reading the target needs a readable descriptor: targets are write-only. */
    struct io_dev rd;
    if (io_open_verify(t->path, &rd, err))
        return err ? err->code : -EIO;
    struct layout *l = calloc(1, sizeof(*l));
    struct cb_error rerr = { 0 };
    int rc = l ? layout_read(l, layout_read_io, &rd, t->path, t->size, t->sector, &rerr) : -ENOMEM;
    io_close(&rd);
    if (rc == -EINVAL)
        rc = 0;                 /* not a GPT we may trust: leave it as the source had it */
    else if (rc)
        cb_error_set(err, rc, "%s", rerr.msg);
    uint64_t ss = t->sector, last = t->size / ss - 1;
    uint64_t old_alt = l && l->kind == LAYOUT_GPT ? layout_gpt_alt_lba(l) : 0;
    if (rc || l->kind != LAYOUT_GPT || old_alt == last)
        goto out;
    uint64_t esec = layout_tail_bytes(l) / ss - 1, new_elba = last - esec;
    rc = layout_plan(l, t->size, RESIZE_KEEP, t->path, err);
    if (!rc)
        rc = layout_write(l, t, err);
    if (!rc && old_alt > 2 && old_alt < new_elba && old_alt >= esec) {
        size_t len = (esec + 1) * ss;
        void *zero = io_alloc(len);
        rc = zero ? 0 : cb_error_set(err, -ENOMEM, "out of memory fixing the GPT of %s", t->path);
        if (zero) {
            memset(zero, 0, len);
            rc = layout_put(t, zero, len, (old_alt - esec) * ss, err);
            io_free(zero);
        }
    }
    if (!rc && io_flush(t) != 0)
        rc = cb_error_set(err, -EIO, "cannot flush the partition table of %s", t->path);
    if (!rc)
        rc = 1;
out:
    if (l)
        layout_free(l);
    free(l);
    return rc;
}
