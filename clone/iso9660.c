#include "clone/iso9660.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <linux/cdrom.h>
#include <string.h>
#include <sys/ioctl.h>

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

/* Where the last session of a multi-session disc starts (in 2048-byte blocks),
 * as the drive reports it; 0 for single-session discs, files and other drives. */
static uint32_t last_session(const struct io_dev *src)
{
    struct cdrom_multisession ms = { .addr_format = CDROM_LBA };
    if (!src->is_block || ioctl(src->fd, CDROMMULTISESSION, &ms) != 0 || !ms.xa_flag || ms.addr.lba <= 0)
        return 0;
    return (uint32_t)ms.addr.lba;
}

static int read_pvd(struct io_dev *src, unsigned char *buf, uint64_t at, uint64_t *bytes, char *label,
                    size_t label_len)
{
    if (at + PVD_SIZE > src->size)
        return 0;
    ssize_t r = io_pread(src, buf, PVD_SIZE, at);
    return r == (ssize_t)PVD_SIZE ? iso9660_parse_pvd(buf, bytes, label, label_len) : (r < 0 ? (int)r : -EIO);
}

int iso9660_volume(struct io_dev *src, uint64_t *bytes, char *label, size_t label_len)
{
    unsigned char *buf = io_alloc(PVD_SIZE);
    if (!buf)
        return -ENOMEM;
    int rc = read_pvd(src, buf, PVD_OFFSET, bytes, label, label_len);
    /* A multi-session disc: the last session's descriptor (16 blocks into it)
     * counts the volume from block 0 through that session, as the kernel's
     * isofs mounts it. */
    uint32_t session = rc >= 0 ? last_session(src) : 0;
    uint64_t later;
    if (session && read_pvd(src, buf, (uint64_t)session * 2048 + PVD_OFFSET, &later, label, label_len) == 1 &&
        (rc != 1 || later > *bytes)) {
        *bytes = later;
        rc = 1;
    }
    io_free(buf);
    return rc;
}
