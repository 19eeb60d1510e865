/* frame_cache: the disk an image holds, for random reads (a mounted image,
 * a diff): a clonebay image (one file or split parts) read through a few
 * decoded frames kept in memory and reused least-recently-used first, or a
 * raw image or drive read as it is.
 *
 * Memory is bounded whatever the disk size: slots decoded frames plus the
 * image reader's two frame buffers (4 slots of 8 MiB: 48 MiB). A frame that
 * fails to decode is remembered as damaged and its message handed to the log
 * callback once; reads stop short before it, so only the blocks it holds
 * fail. Not thread-safe: one owner (the FUSE helper runs single-threaded). */
#ifndef CB_FRAME_CACHE_H
#define CB_FRAME_CACHE_H

#include "common/cb_error.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define FCACHE_SLOTS 4

struct fcache;

struct fcache_stats {
    uint64_t reads;             /* fcache_read calls */
    uint64_t decoded;           /* frames decoded (a miss costs one) */
    uint64_t hits;              /* frames found decoded in a slot */
    uint64_t damaged;           /* distinct frames found damaged */
    uint64_t failed_reads;      /* reads that ended in EIO */
};

/* Open path: a clonebay image (FILE.zst, its parts), or, when raw is true, a
 * raw image or drive read byte for byte. slots: decoded frames to keep (1..8).
 * 0, or -errno with err saying why the file cannot be used. */
int fcache_open(struct fcache **out, const char *path, bool raw, unsigned slots, struct cb_error *err);
void fcache_close(struct fcache *c);

uint64_t fcache_size(const struct fcache *c);
bool fcache_is_raw(const struct fcache *c);
/* The source drive's logical sector size (512 for a raw image). */
unsigned fcache_sector_size(const struct fcache *c);
/* The image's frame size (the unit a diff compares in); 8 MiB for raw. */
uint32_t fcache_frame_size(const struct fcache *c);

/* Read up to len bytes at off. Returns the bytes read (short when a damaged
 * frame follows, 0 at the end of the disk), or -EIO when off itself lies in a
 * damaged frame, or another -errno. */
ssize_t fcache_read(struct fcache *c, void *buf, size_t len, uint64_t off);

void fcache_get_stats(const struct fcache *c, struct fcache_stats *out);

/* fn(arg, message) is called once for each frame found damaged; the message
 * names the frame and the disk bytes it holds. */
void fcache_set_log(struct fcache *c, void (*fn)(void *arg, const char *msg), void *arg);

#endif
