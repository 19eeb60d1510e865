#include "clone/udf.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <string.h>

#define TAG_AVDP 2
#define TAG_PD 5        /* partition descriptor */
#define TAG_LVD 6       /* logical volume descriptor */
#define TAIL_SCAN 640   /* blocks after the partition where anchors and the reserve VDS live */

/* A descriptor tag that says it is block `at`, with a good checksum (ECMA-167 7.2). */
static int tag_at(const unsigned char *b, uint32_t at)
{
    unsigned sum = 0;
    for (int i = 0; i < 16; i++)
        if (i != 4)
            sum += b[i];
    if ((sum & 0xff) != b[4] || le_get32(b + 12) != at)
        return 0;
    return le_get16(b);
}

static int read_blocks(struct io_dev *src, unsigned char *buf, uint32_t block, uint32_t n, uint32_t bs)
{
    uint64_t off = (uint64_t)block * bs, len = (uint64_t)n * bs;
    if (off + len > src->size)
        return -ERANGE;
    ssize_t r = io_pread(src, buf, len, off);
    return r == (ssize_t)len ? 0 : (r < 0 ? (int)r : -EIO);
}

/* The Volume Recognition Sequence (from byte 32768) names an NSR descriptor: UDF. */
static int has_nsr(struct io_dev *src, unsigned char *buf)
{
    if (read_blocks(src, buf, 16, 16, 2048) != 0)
        return 0;
    for (int i = 0; i < 16 * 2048; i += 2048)
        if (!memcmp(buf + i + 1, "NSR02", 5) || !memcmp(buf + i + 1, "NSR03", 5))
            return 1;
    /* With 512-byte blocks the descriptors are still 2048 bytes apart. */
    return 0;
}

/* The LVD's name: a dstring of 128 bytes, 8-bit compression only (else left empty). */
static void lvd_name(const unsigned char *lvd, char *label, size_t len)
{
    const unsigned char *d = lvd + 84;
    size_t n = d[127];
    if (!len)
        return;
    label[0] = '\0';
    if (d[0] != 8 || n < 1 || n > 127)
        return;
    size_t k = 0;
    for (size_t i = 1; i < n && k + 1 < len; i++)
        label[k++] = (char)d[i];
    label[k] = '\0';
}

static int volume_with(struct io_dev *src, uint32_t bs, unsigned char *buf, uint64_t *bytes, char *label,
                       size_t label_len)
{
    if (read_blocks(src, buf, 256, 1, bs) != 0 || tag_at(buf, 256) != TAG_AVDP)
        return 0;
    uint32_t vds_len = le_get32(buf + 16) / bs, vds = le_get32(buf + 20);
    if (vds_len == 0 || vds_len > 64)
        return 0;
    uint64_t end = 0;
    for (uint32_t i = 0; i < vds_len; i++) {
        if (read_blocks(src, buf, vds + i, 1, bs) != 0)
            return -EIO;
        int tag = tag_at(buf, vds + i);
        if (tag == TAG_PD) {
            uint64_t pend = (uint64_t)le_get32(buf + 188) + le_get32(buf + 192);
            if (pend > end)
                end = pend;
        } else if (tag == TAG_LVD && label) {
            lvd_name(buf, label, label_len);
        }
    }
    if (end == 0)
        return 0;
    if (end < 257)
        end = 257;
    /* After the partition: the reserve sequence and the anchors at N-257 and
     * N-1. The last descriptor found there ends the volume. Unreadable blocks
     * (a disc's run-out) end the search. */
    uint64_t last = end;
    for (uint64_t b = end; b < end + TAIL_SCAN && (b + 1) * bs <= src->size; b++) {
        if (read_blocks(src, buf, (uint32_t)b, 1, bs) != 0)
            break;
        if (tag_at(buf, (uint32_t)b))
            last = b + 1;
    }
    *bytes = last * bs;
    return 1;
}

int udf_volume(struct io_dev *src, uint64_t *bytes, char *label, size_t label_len)
{
    if (src->size < 257 * 2048u)
        return 0;
    unsigned char *buf = io_alloc(16 * 2048);
    if (!buf)
        return -ENOMEM;
    int rc = has_nsr(src, buf);
    if (rc == 1) {
        rc = volume_with(src, 2048, buf, bytes, label, label_len);
        if (rc == 0)
            rc = volume_with(src, 512, buf, bytes, label, label_len);
    }
    io_free(buf);
    return rc;
}
