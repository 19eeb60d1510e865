/* image_read: open a clonebay image (one file or split parts), check its
 * structure, and read any byte range of the disk it holds.
 *
 * image_open() checks the seek table, the header and the trailer before
 * anything else happens, so a truncated, damaged or foreign file is refused
 * with the file and offset named, before a restore writes a byte. Frames are
 * checked as they are decoded (zstd's own frame checksum). */
#ifndef CB_IMAGE_READ_H
#define CB_IMAGE_READ_H

#include "clone/engine_source.h"
#include "clone/image_format.h"
#include "clone/part_file.h"

#include <sys/types.h>

struct img_frame {
    uint64_t cpos;                  /* offset in the image file */
    uint64_t dpos;                  /* offset on the disk */
    uint32_t csize, dsize, checksum;
};

struct image {
    struct part_file pf;
    struct img_meta meta;
    struct img_frame *frames;       /* data frames only, in disk order */
    uint32_t nframes;
    uint64_t data_bytes;            /* compressed bytes of data frames */
    void *zstd;                     /* ZSTD_DCtx */
    unsigned char *cbuf, *dbuf;     /* one frame, compressed and decoded */
    size_t cbuf_cap;
    int64_t cached;                 /* frame held decoded in dbuf, -1 none */
};

int image_open(struct image *img, const char *path, struct cb_error *err);
void image_close(struct image *img);

/* Read [off, off+len) of the disk. 0, or -errno with err naming the frame. */
int image_read(struct image *img, void *buf, size_t len, uint64_t off, struct cb_error *err);
/* image_read as a layout_read_fn (ctx: the image); errors as -errno only. */
int image_read_fn(void *img, void *buf, size_t len, uint64_t off);
/* The image as what a job reads (dev: the disk it holds, described). */
struct engine_source image_source(struct image *img, struct io_dev *dev);

/* A sparse in-memory file (memfd) as large as the disk, holding only the
 * ranges r of it decoded: enough for blkid and superblock readers to look at
 * an image's partitions as if it were a drive. *fd, or -errno with err. */
int image_view(struct image *img, const struct img_range *r, size_t n, int *fd, struct cb_error *err);

/* Mark the used ranges the image records (--mode used) inside [off,
 * off+size) as MAP_FINISHED in map. 1 when the image has them, 0 when not,
 * -ENOMEM. */
struct block_map;
int image_used_mark(const struct image *img, uint64_t off, uint64_t size, struct block_map *map);

/* The data frame holding disk byte off. */
uint32_t image_frame_of(const struct image *img, uint64_t off);
/* Decode frame i into img->dbuf (checks it). 0 or -errno. */
int image_load_frame(struct image *img, uint32_t i, struct cb_error *err);

/* Check a whole image: every frame decoded, the stream hashed with every
 * algorithm the trailer records, and compared. */
#define IMG_CHECK_MSGS 8
struct image_check {
    uint32_t damaged;                           /* frames that failed */
    char msgs[IMG_CHECK_MSGS][CB_ERROR_MSG_MAX]; /* the first few failures */
    char digests[HASH_COUNT][HASH_MAX_HEX];     /* recomputed ("" when not recorded) */
    int mismatched;                             /* recorded digests that differ */
    bool cancelled;
};
struct copy_progress;
int image_check_all(struct image *img, struct copy_progress *progress, struct image_check *out);

#endif
