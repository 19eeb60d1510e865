#include "clone/iso9660.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <string.h>

#define PVD_OFFSET 32768u
#define PVD_SIZE 2048u

int iso9660_parse_pvd(const unsigned char *pvd, uint64_t *bytes, char *label, size_t label_len)
{
    /* Type 1 (primary), "CD001", version 1. */
    if (pvd[0] != 1 || memcmp(pvd + 1, "CD001", 5) != 0 || pvd[6] != 1)
        return 0;
    uint32_t blocks = le_get32(pvd + 80);                       /* both-endian: the LE half */
    uint32_t block = le_get16(pvd + 128);
    if (blocks == 0 || (block != 512 && block != 1024 && block != 2048 && block != 4096))
        return 0;
    *bytes = (uint64_t)blocks * block;
    if (label && label_len) {
        size_t n = 32 < label_len - 1 ? 32 : label_len - 1;
        memcpy(label, pvd + 40, n);
        label[n] = '\0';
        while (n > 0 && label[n - 1] == ' ')
            label[--n] = '\0';
    }
    return 1;
}

int iso9660_volume(struct io_dev *src, uint64_t *bytes, char *label, size_t label_len)
{
    if (src->size < PVD_OFFSET + PVD_SIZE)
        return 0;
    unsigned char *buf = io_alloc(PVD_SIZE);
    if (!buf)
        return -ENOMEM;
    ssize_t r = io_pread(src, buf, PVD_SIZE, PVD_OFFSET);
    int rc = r == (ssize_t)PVD_SIZE ? iso9660_parse_pvd(buf, bytes, label, label_len) : (r < 0 ? (int)r : -EIO);
    io_free(buf);
    return rc;
}
