/* image_write: a drive (or file) to a clonebay image, in one pass.
 *
 *   reader (caller's thread) -> slots -> hasher (in order)
 *                                     -> compressors (pool, any order)
 *                                     -> writer (in order) -> FILE.partial[.NNN]
 *
 * Memory is bounded whatever the core count or the level (IMG_JOB_MEMORY):
 * image_write_plan picks how many compressors run and, at high levels, a
 * smaller window, from zstd's own estimate of a context's size. Each slot
 * holds one frame buffer, and each compressor one more that it compresses
 * into and then swaps with the slot's, so a frame in flight costs one buffer,
 * not two. All-zero frames skip the compressor: they reuse one precomputed
 * frame. A read error
 * does not stop the image: the frame is re-read in 64 KiB clusters and then
 * sector by sector (with retries), and what stays unreadable is written as
 * zeros (or the fill) and recorded in the map and the trailer. The frames must
 * reach the file in disk order, so this rescue stays inside the frame; for a
 * badly failing drive, clone it first with the full ddrescue-style rescue. */
#ifndef CB_IMAGE_WRITE_H
#define CB_IMAGE_WRITE_H

#include "clone/block_map.h"
#include "clone/image_format.h"
#include "clone/io.h"
#include "clone/part_file.h"
#include "clone/progress.h"

#include <pthread.h>

/* The whole job's memory, and the part of it kept for everything but the
 * frames and the compressors (program, libraries, hashing, map, seek table,
 * stdio: about 6 MiB measured). */
#define IMG_JOB_MEMORY (64u << 20)
#define IMG_JOB_RESERVE (12u << 20)
#define IMG_MAX_WORKERS 16
#define IMG_MAX_SLOTS (IMG_MAX_WORKERS + 1)
/* Windows below this are a last resort: at level 19, 32 MiB of /usr/lib
 * came out 2.6% larger with a 1 MiB window than with the 8 MiB one, but 4.7%
 * with 256 KiB, so a compressor is dropped before the window goes below. */
#define IMG_MIN_WINDOW_LOG 20

struct image_plan {
    int workers;                    /* compressor threads */
    int slots;                      /* frames in flight */
    int window_log;                 /* ZSTD_c_windowLog */
    int chain_log, hash_log;        /* the level's, fitted to the window */
    size_t buffer_bytes;            /* one frame buffer */
    size_t cctx_bytes;              /* zstd's estimate for one compressor */
    size_t total_bytes;             /* (slots + workers) buffers + workers contexts */
};

/* How to compress at level with cores available (0: ask the system) within
 * IMG_JOB_MEMORY - IMG_JOB_RESERVE. 0, or -ENOMEM when not even one
 * compressor at the smallest window fits. */
int image_write_plan(int level, int cores, struct image_plan *plan);

struct image_write_job {
    struct io_dev *src;
    const char *name;               /* final name: FILE.zst (parts FILE.zst.NNN with split) */
    uint64_t split;                 /* bytes per part, 0: one file */
    int level;                      /* zstd level 1..19 */
    int workers;                    /* compressor threads at most (0: one per CPU); memory may allow fewer */
    unsigned hash_mask;
    int retries;
    const char *fill;
    struct img_meta *meta;          /* header filled by the caller; trailer filled here */
    struct block_map *map;          /* whole source, all MAP_NONTRIED on entry */
    pthread_mutex_t *map_mu;        /* NULL, or held around every change to *map */
    const struct block_map *domain; /* NULL, or only its MAP_FINISHED regions are read (and
                                     * listed in the header); the rest is stored as zeros (--mode used) */
    struct copy_progress *progress;

    /* Results */
    struct part_writer out;         /* FILE.partial...; committed or aborted by the caller */
    uint64_t image_bytes;
    uint64_t zero_frames, frames;
    struct image_plan plan;         /* compressors and window used */
    bool cancelled;
};

/* Writes the whole image to the partial file(s). 0 when written; -errno
 * (err says why) when it failed. The caller verifies, then commits or aborts. */
int image_write_run(struct image_write_job *job, struct cb_error *err);

#endif
