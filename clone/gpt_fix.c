#include "clone/gpt_fix.h"

#include "common/le_bytes.h"

#include <errno.h>
#include <stdio.h>
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


enum {
    H_CRC = 16, H_MY_LBA = 24, H_ALT_LBA = 32, H_LAST_USABLE = 48,
    H_ENTRIES_LBA = 72, H_NENTRIES = 80, H_ENTRY_SIZE = 84, H_ENTRIES_CRC = 88,
};

static void seal(unsigned char *hdr, uint32_t hsize)
{
    le_put32(hdr + H_CRC, 0);
    le_put32(hdr + H_CRC, gpt_crc32(hdr, hsize));
}

static int rw(struct io_dev *t, void *buf, size_t len, uint64_t off, bool write, struct cb_error *err)
{
    ssize_t r = write ? io_pwrite(t, buf, len, off) : io_pread(t, buf, len, off);
    if (r == (ssize_t)len)
        return 0;
    int e = r < 0 ? (int)r : -EIO;
    return cb_error_set(err, e, "cannot %s the partition table of %s at byte %llu: %s",
                        write ? "write" : "read", t->path, (unsigned long long)off, strerror(-e));
}

int gpt_relocate_backup(struct io_dev *t, struct cb_error *err)
{
    /* Reading the target needs a readable descriptor: targets are write-only. */
    struct io_dev rd;
    if (io_open_verify(t->path, &rd, err))
        return err ? err->code : -EIO;
    size_t ss = t->sector;
    unsigned char *head = io_alloc(2 * ss), *ent = NULL, *zero = NULL;
    int rc = head ? rw(&rd, head, 2 * ss, 0, false, err) : -ENOMEM;
    unsigned char *hdr = head ? head + ss : NULL;
    if (rc || memcmp(hdr, "EFI PART", 8) != 0)
        goto out;
    uint32_t hsize = le_get32(hdr + 12);
    uint32_t crc = le_get32(hdr + H_CRC);
    le_put32(hdr + H_CRC, 0);
    if (hsize < 92 || hsize > ss || gpt_crc32(hdr, hsize) != crc)
        goto out;       /* not a GPT we may trust: leave it as the source had it */
    le_put32(hdr + H_CRC, crc);
    uint64_t nent = le_get32(hdr + H_NENTRIES), esize = le_get32(hdr + H_ENTRY_SIZE);
    uint64_t ebytes = nent * esize, esec = (ebytes + ss - 1) / ss;
    uint64_t total = t->size / ss, last = total - 1, new_elba = last - esec;
    uint64_t old_alt = le_get64(hdr + H_ALT_LBA);
    if (old_alt == last || esec == 0 || esec > 1024 || new_elba <= 2 + esec)
        goto out;
    ent = io_alloc(esec * ss);
    zero = io_alloc(esec * ss);
    if (!ent || !zero) {
        rc = cb_error_set(err, -ENOMEM, "out of memory fixing the GPT of %s", t->path);
        goto out;
    }
    memset(zero, 0, esec * ss);
    rc = rw(&rd, ent, esec * ss, le_get64(hdr + H_ENTRIES_LBA) * ss, false, err);
    if (rc)
        goto out;
    if (gpt_crc32(ent, ebytes) != le_get32(hdr + H_ENTRIES_CRC))
        goto out;
    /* Primary: the backup now lives at the end; the free space grows. */
    le_put64(hdr + H_ALT_LBA, last);
    le_put64(hdr + H_LAST_USABLE, new_elba - 1);
    seal(hdr, hsize);
    unsigned char *bak = zero + (esec - 1) * ss;   /* borrow a zeroed sector later */
    /* Protective MBR: one 0xEE partition covering the whole disk. */
    unsigned char *pe = head + 446;
    if (head[510] == 0x55 && head[511] == 0xAA && pe[4] == 0xEE)
        le_put32(pe + 12, total - 1 > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)(total - 1));
    /* Wipe the old backup (now mid-disk), then write the new one and the primary. */
    if (old_alt > 2 && old_alt < new_elba && old_alt >= esec) {
        rc = rw(t, zero, esec * ss, (old_alt - esec) * ss, true, err);
        if (!rc)
            rc = rw(t, zero, ss, old_alt * ss, true, err);
        if (rc)
            goto out;
    }
    rc = rw(t, ent, esec * ss, new_elba * ss, true, err);
    if (rc)
        goto out;
    memset(bak, 0, ss);
    memcpy(bak, hdr, hsize);
    le_put64(bak + H_MY_LBA, last);
    le_put64(bak + H_ALT_LBA, 1);
    le_put64(bak + H_ENTRIES_LBA, new_elba);
    seal(bak, hsize);
    rc = rw(t, bak, ss, last * ss, true, err);
    if (!rc)
        rc = rw(t, head, 2 * ss, 0, true, err);
    if (!rc && io_flush(t) != 0)
        rc = cb_error_set(err, -EIO, "cannot flush the partition table of %s", t->path);
    if (!rc)
        rc = 1;
out:
    io_free(head);
    io_free(ent);
    io_free(zero);
    io_close(&rd);
    return rc;
}
