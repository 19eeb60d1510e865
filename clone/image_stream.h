/* image_stream: a clonebay image read in order from a pipe (a network
 * receive), with no seeking: the seekable reader (image_read.h) finds the
 * frames through the seek table at the end, which a stream reaches last.
 *
 * image_stream_open() reads the header frame and nothing more, so a caller
 * can refuse a stream that is not an image, or a drive too small for it,
 * before it writes a byte. Data frames are then decoded one at a time as the
 * disk is read forward (zstd checks each frame's own checksum). Once the last
 * disk byte is read, the trailer and the seek table are read and every frame
 * that went by is checked against the seek table (sizes and checksums), and
 * the stream must end there: a cut, reordered or foreign stream fails, named.
 * The trailer's digests are then in meta, for the job to compare. */
#ifndef CB_IMAGE_STREAM_H
#define CB_IMAGE_STREAM_H

#include "clone/engine_source.h"
#include "clone/image_format.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct image_stream {
    int fd;                         /* read only; the caller owns it */
    char name[256];                 /* names the stream in messages */
    struct img_meta meta;           /* header from open; trailer once ended */
    uint64_t in_pos;                /* stream bytes consumed (frames whole) */
    unsigned char *in;              /* bytes read from fd, not consumed yet: [in_off, in_len) */
    size_t in_off, in_len, in_cap;
    void *zstd;                     /* ZSTD_DCtx */
    unsigned char *dbuf;            /* the last data frame decoded: disk bytes [dpos - dlen, dpos) */
    size_t dlen;
    uint64_t dpos;
    struct img_entry *seen;         /* every frame that went by, for the seek table */
    uint32_t nseen, seen_cap;
    uint32_t data_frames;
    bool ended;                     /* trailer and seek table read, checked, end of stream seen */
};

/* Read the header from fd. 0, or -errno with err naming the stream. */
int image_stream_open(struct image_stream *s, int fd, const char *name, struct cb_error *err);
/* Read [off, off+len) of the disk; off never before what an earlier call
 * asked (the stream only goes forward; a skipped range is decoded and
 * dropped). Reading the disk's last byte reads and checks the end. 0, or
 * -errno with err naming the frame or the stream offset. */
int image_stream_read(struct image_stream *s, void *buf, size_t len, uint64_t off, struct cb_error *err);
void image_stream_close(struct image_stream *s);
/* The stream as what a job reads, once and in order (dev: the disk it holds, described). */
struct engine_source image_stream_source(struct image_stream *s, struct io_dev *dev);

#endif
