/* image_write: a drive (or file) to a clonebay image, in one pass.
 *
 *   reader (caller's thread) -> slots -> hasher (in order)
 *                                     -> compressors (pool, any order)
 *                                     -> writer (in order) -> FILE.partial[.NNN]
 *
 * Memory is bounded by the slots (IMG_SLOTS frames in and out). All-zero
 * frames skip the compressor: they reuse one precomputed frame. A read error
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

#define IMG_SLOTS 4                 /* 4 x 8 MiB in + 4 x 8 MiB out: 64 MiB a job */

struct image_write_job {
    struct io_dev *src;
    const char *name;               /* final name: FILE.zst (parts FILE.zst.NNN with split) */
    uint64_t split;                 /* bytes per part, 0: one file */
    int level;                      /* zstd level 1..19 */
    int workers;                    /* compressor threads (0: one per CPU) */
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
    bool cancelled;
};

/* Writes the whole image to the partial file(s). 0 when written; -errno
 * (err says why) when it failed. The caller verifies, then commits or aborts. */
int image_write_run(struct image_write_job *job, struct cb_error *err);

#endif
