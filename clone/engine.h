/* copy: read a source once and write it to every target, hashing the stream.
 *
 * The walk follows the block map with GNU ddrescue's phases (rescue.c): copy
 * the healthy bulk first with large reads, skipping ahead of errors; then trim
 * and scrape the failed areas sector by sector; retry; write a fill over what
 * stays unreadable. Digests are computed on the stream while it runs in order
 * from the start; after a gap (a skipped area, or a resumed job) the rest is
 * hashed from the image as written on the first live target, so the digests
 * always describe exactly what every target holds, without re-reading a
 * failing source. A target that fails is dropped and the others carry on.
 * Verification re-reads every target from the media and compares digests,
 * including "prefix digests" taken every ~64 MiB of stream so a mismatch is
 * located without re-reading the source. */
#ifndef CB_ENGINE_H
#define CB_ENGINE_H

#include "clone/block_map.h"
#include "clone/engine_record.h"
#include "clone/engine_sink.h"
#include "clone/engine_source.h"
#include "clone/image_read.h"
#include "clone/hash.h"
#include "clone/io.h"
#include "clone/progress.h"
#include "common/cb_error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define ENGINE_SLOT_SIZE (4u << 20)
#define ENGINE_SLOTS 8                          /* 32 MiB of buffers per job */
/* With an image among the targets, its frames and compressors need most of
 * the job's 64 MiB: the ring keeps 8 MiB (one slot read while the
 * hasher and the sink take the other). */
#define ENGINE_IMAGE_SLOTS 2
#define ENGINE_CHECKPOINT_EVERY (64ull << 20)

struct engine_checkpoint {
    uint64_t stream_pos;            /* bytes hashed so far */
    uint64_t disk_off;              /* source offset the stream had reached */
    char hex[HASH_MAX_HEX];         /* prefix digest of the verify algorithm */
};

struct engine_task {
    struct engine_source source;      /* a drive or file, an image, a stream (clone/engine_source.h) */
    struct engine_target *targets;
    size_t ntargets;
    struct block_map *map;          /* in: what to do; out: what was done */
    pthread_mutex_t *map_mu;        /* NULL, or held around every change to *map (a UI copies it live) */
    const struct block_map *domain; /* NULL: all of the source; else only its MAP_FINISHED regions
                                     * are copied, hashed (in order) and verified (--mode used), and
                                     * its MAP_ZERO ones written, hashed and verified as zeros */
    const char *map_path;           /* saved every few seconds when set */
    const char *map_cmdline;
    unsigned hash_mask;             /* algorithms to compute (includes verify_alg) */
    enum hash_alg verify_alg;
    uint64_t max_read_rate;         /* bytes/s, 0 for no limit (spare a dying drive, or tests) */
    int retries;                    /* passes over bad sectors after scraping */
    const char *fill;               /* pattern written over unreadable sectors; NULL: zeros */
    /* A resume: pieces an earlier run wrote that its target vouches for by
     * the sha256 of the bytes as they were read (an image's FILE.sums). They
     * are neither read again for the digests nor counted unvouched;
     * verification checks the targets against them like any record. */
    const struct engine_record *vouched;
    size_t nvouched;
    struct copy_progress *progress;

    /* Results. */
    char digests[HASH_COUNT][HASH_MAX_HEX];
    struct engine_checkpoint *checkpoints;
    size_t ncheckpoints;
    struct engine_record *records;    /* sorted by offset after engine_run */
    size_t nrecords;
    bool cancelled;
    bool source_lost;               /* the source vanished (pulled cable) */
    char source_msg[256];
    uint64_t hashed_in_stream;      /* bytes hashed from the source stream itself */
    /* A resumed job: bytes an earlier run had finished, re-read from the
     * source for the digests, and those the source no longer gave (hashed
     * from the target instead, so verification cannot vouch for them). */
    uint64_t resumed_from_source, resumed_unvouched;
    char hash_tail_from[256];       /* target the rest was hashed from, "" if none */
};

/* Copy; 0 when the walk ran to its end or was cancelled (see job->cancelled),
 * -errno when it could not run or no target survived. */
int engine_run(struct engine_task *job, struct cb_error *err);
/* Verify every target that did not fail. 0 when all that were checked match. */
int engine_verify(struct engine_task *job, struct cb_error *err);
void engine_release(struct engine_task *job);
/* Targets still alive. */
size_t engine_live_targets(const struct engine_task *job);

#endif
