/* image_sink: a clonebay image as one of the copy engine's targets.
 *
 * The engine's walk (rescue.c) reads in any order: the healthy bulk first,
 * skipping ahead of errors, then back to trim and scrape. An image needs its
 * frames in disk order. The sink takes pieces in any order and emits frames
 * in order:
 *
 *   pieces -> assembly (one frame in memory)  -> compressors (pool)
 *          \-> stage file (raw, sparse) for frames left half-read by a skip
 *   compressed frame k: next in order -> FILE.partial (frames in order)
 *                       else          -> FILE.spill (appended with a header),
 *                                        moved into FILE.partial once the
 *                                        frames before it are in
 *
 * A healthy drive never touches the spill or the stage: frames complete in
 * order. A failing one costs one extra write of the compressed frames read
 * after its first bad area, and the raw bytes of the frames a skip cut in two.
 *
 * Resume (--map): a checkpoint (image_sink_checkpoint, called before the
 * engine saves the map) puts everything received so far into the three files
 * and syncs them, so every region the saved map calls finished is in one of
 * them. image_sink_open with resume_map rebuilds the state from the files:
 * FILE.partial's frames up to the first torn one (each decoded, checksums
 * checked), the spill's whole records, and the stage for the rest of the map's
 * finished regions. FILE.sums (with a map) keeps each frame's sha256, so the
 * frames kept are vouched for without reading the source again. */
#ifndef CB_IMAGE_SINK_H
#define CB_IMAGE_SINK_H

#include "clone/block_map.h"
#include "clone/image_format.h"
#include "common/cb_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The whole job's memory, and the part of it kept for everything but the
 * frames, the compressors and the engine's ring (program, libraries,
 * hashing, map, seek table, stdio: about 6 MiB measured). */
#define IMG_JOB_MEMORY (64u << 20)
#define IMG_JOB_RESERVE (8u << 20)
#define IMG_MAX_WORKERS 16
/* Windows below this are a last resort: at level 19, 32 MiB of /usr/lib
 * came out 2.6% larger with a 1 MiB window than with the 8 MiB one, but 4.7%
 * with 256 KiB, so a compressor is dropped before the window goes below. */
#define IMG_MIN_WINDOW_LOG 20

struct image_plan {
    int workers;                    /* compressor threads */
    int buffers;                    /* frame buffers: assembly + one per frame in flight */
    int window_log;                 /* ZSTD_c_windowLog */
    int chain_log, hash_log;        /* the level's, fitted to the window */
    size_t buffer_bytes;            /* one frame buffer */
    size_t cctx_bytes;              /* zstd's estimate for one compressor */
    size_t total_bytes;             /* (buffers + workers) buffers + workers contexts */
};

/* How to compress at level with cores available (0: ask the system) within
 * budget bytes. 0, or -ENOMEM when not even one compressor at the smallest
 * window fits. */
int image_sink_plan(int level, int cores, size_t budget, struct image_plan *plan);

struct image_sink_config {
    const char *name;               /* final name FILE.zst; written as FILE.zst.partial[.NNN] */
    uint64_t split;                 /* bytes per part, 0: one file */
    int level;                      /* zstd level 1..19 */
    int workers;                    /* compressors at most (0: one per CPU); memory may allow fewer */
    size_t budget;                  /* bytes for frames and compressors */
    struct img_meta *meta;          /* header (size, sector, source...): written first on a new image */
    const struct block_map *resume; /* NULL: a new image; else the saved map of the interrupted run */
    bool sums;                      /* keep FILE.sums: each frame's sha256 as compressed, so a resume
                                     * can vouch for the frames it keeps without reading them again */
};

struct image_sink_stats {
    uint64_t image_bytes;           /* bytes in FILE.partial */
    uint64_t frames, zero_frames;   /* data frames emitted */
    uint64_t spilled_frames;        /* frames that waited in the spill */
    uint64_t staged_bytes;          /* raw bytes that waited in the stage */
    uint64_t resumed_frames;        /* frames an earlier run had written, kept */
    struct image_plan plan;
};

struct image_sink;

int image_sink_open(struct image_sink **out, const struct image_sink_config *c, struct cb_error *err);
/* A piece of the disk (the engine's target thread). 0, or -errno: the sink failed. */
int image_sink_put(struct image_sink *s, const void *buf, size_t len, uint64_t off);
/* Everything received so far into the files, synced. 0 or -errno. */
int image_sink_checkpoint(struct image_sink *s);
/* After the walk: every frame in FILE.partial, in order. 0 or -errno (err). */
int image_sink_drain(struct image_sink *s, struct cb_error *err);
/* After the drain: [off, off+len) of the disk, decoded back from FILE.partial. 0 or -errno. */
int image_sink_read(struct image_sink *s, void *buf, size_t len, uint64_t off);
/* The trailer (digests, bad ranges from m) and the seek table; synced. */
int image_sink_finish(struct image_sink *s, const struct img_meta *m, struct cb_error *err);
/* Make target t write into s: its engine_sink_ops (clone/engine_sink.h) are the
 * sink's; t->dev.path names the image for messages. */
struct engine_target;
void image_sink_attach(struct image_sink *s, struct engine_target *t);
/* FILE.partial as image_open takes it. */
const char *image_sink_partial_name(const struct image_sink *s);
/* Rename the parts to their final names; the spill and stage are removed. */
int image_sink_commit(struct image_sink *s, struct cb_error *err);
/* Remove every file of the image (failed, cancelled without a map). */
void image_sink_abort(struct image_sink *s);
void image_sink_stats(const struct image_sink *s, struct image_sink_stats *out);
/* The frames an earlier run wrote that this one keeps, whose whole range the
 * saved map calls finished and whose sha256 (of the bytes as read, taken
 * before compression) FILE.sums holds: (*out)[i] = {off, len, sha256}.
 * Verification checks the image against these. 0 or -ENOMEM. */
struct engine_record;
int image_sink_vouched(const struct image_sink *s, struct engine_record **out, size_t *n);
/* A resume: ranges the saved map calls finished that no file of the image
 * holds (the file system lost them): the job reads them again. */
void image_sink_lost(const struct image_sink *s, const struct img_range **v, size_t *n);
/* Stop the threads and free; files are left as they are (a map resumes them). */
void image_sink_free(struct image_sink *s);

#endif
