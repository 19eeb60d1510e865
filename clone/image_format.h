/* image_format: clonebay's disk image on disk, a plain seekable zstd file.
 *
 *   [header]  skippable frame 0x184D2A5C: "clonebay-image 1 header\n" + key/value lines
 *   [data]    one zstd frame (content size and XXH64 checksum in it) per 8 MiB of disk
 *   [trailer] skippable frame 0x184D2A5C: "clonebay-image 1 trailer\n" + hashes, bad ranges
 *   [seek]    the zstd seekable-format seek table (skippable 0x184D2A5E, checksummed entries)
 *
 * Any zstd decodes the file to the raw disk (skippable frames are ignored);
 * the seek table lists every frame, skippable ones with size 0, so any offset
 * is one pread and one frame decode away. Metadata is text, one "key value"
 * per line: a reader ignores keys it does not know, and refuses a newer
 * format number with a sentence saying so. */
#ifndef CB_IMAGE_FORMAT_H
#define CB_IMAGE_FORMAT_H

#include "clone/hash.h"
#include "common/cb_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMG_FORMAT 1
/* 8 MiB of disk per frame, compressed with a window as large as the frame:
 * measured on a 2 GiB disk, 4 MiB frames made the image 1.1% larger than one
 * `zstd -3` stream, 8 MiB frames with a 2^23 window 0.8% smaller, at the same
 * speed (tests/bench/image_bench.sh). */
#define IMG_FRAME_SIZE (8u << 20)
#define IMG_WINDOW_LOG 23
/* The largest frame a reader takes. A reader holds one frame decoded and one
 * compressed, sized from the header, so a header asking for 1 GiB frames
 * would cost 2 GiB: refused, before anything is allocated. clonebay has only
 * ever written frames of IMG_FRAME_SIZE and less. */
#define IMG_FRAME_MAX IMG_FRAME_SIZE
#define IMG_META_MAGIC 0x184D2A5Cu
#define IMG_SEEK_MAGIC 0x184D2A5Eu
#define IMG_SEEKABLE_MAGIC 0x8F92EAB1u
#define IMG_SEEK_FOOTER 9
#define IMG_SEEK_ENTRY 12               /* compressed size, decompressed size, checksum */
#define IMG_META_MAX (16u << 20)        /* bigger metadata is not ours */
#define IMG_MAX_BAD 100000
#define IMG_MAX_USED 400000              /* used ranges in a header: ~10 MiB of text at most */

struct img_range {
    uint64_t off, len;
};

struct img_meta {
    /* header: known before the first byte is read */
    int format;
    char tool_version[32];
    char created[32];                   /* ISO 8601, UTC */
    char source_path[256], source_kind[16], source_model[160], source_serial[128];
    char contents[512];                 /* partition table summary */
    uint64_t size;                      /* bytes of disk the image holds */
    unsigned sector;
    uint32_t frame_size;
    /* --mode used: the ranges the filesystems use (and tables, gaps, whatever
     * was copied whole), so a restore can fit the partitions onto any size */
    struct img_range *used;
    size_t nused;
    /* trailer: known at the end */
    bool complete;
    char digests[HASH_COUNT][HASH_MAX_HEX];     /* "" when not computed */
    struct img_range *bad;              /* unreadable ranges, written as zeros or fill */
    size_t nbad;
    char fill[64];
    bool used_only;                     /* free space was not read: stored as zeros */
};

struct img_entry {
    uint32_t csize, dsize, checksum;
};

void img_meta_free(struct img_meta *m);
/* Append r to the list (*v, *n); 0 or -ENOMEM. */
int img_range_push(struct img_range **v, size_t *n, struct img_range r);
/* Fewer than max ranges: merge across the smallest gaps (what they hold is
 * then copied too, which is always safe). */
void img_ranges_limit(struct img_range *v, size_t *n, size_t max);
/* Bytes the used ranges of m cover (0 when it has none). */
uint64_t img_used_bytes(const struct img_meta *m);

/* The payload text of the header or the trailer (malloc'ed, *len set). */
char *img_meta_header_text(const struct img_meta *m, size_t *len);
char *img_meta_trailer_text(const struct img_meta *m, size_t *len);
/* Parse a header or trailer payload into m. what names the file for errors. */
int img_meta_parse(struct img_meta *m, const char *text, size_t len, bool trailer, const char *what,
                   struct cb_error *err);

/* A skippable frame around payload: 8-byte header + payload (malloc'ed). */
void *img_skippable_frame(uint32_t magic, const void *payload, size_t len, size_t *out_len);

/* The seek table frame for entries (malloc'ed, *out_len set). */
void *img_seek_table(const struct img_entry *e, uint32_t n, size_t *out_len);

/* Little-endian helpers shared by the reader and the writer. */
static inline uint32_t img_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void img_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

#endif
