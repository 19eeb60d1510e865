/* copy_internal: what copy.c (the pipeline) shares with rescue.c (the walk).
 * Not a public header: only the engine's own files include it. */
#ifndef CB_COPY_INTERNAL_H
#define CB_COPY_INTERNAL_H

#include "clone/buffer_ring.h"
#include "clone/copy.h"

#include <pthread.h>

/* Reads in error areas go 64 KiB at a time (ddrescue's cluster size). */
#define RESCUE_CLUSTER (64u << 10)
/* A drive that keeps the others waiting this long is left behind (buffer_ring.h). */
#define COPY_LAG_AFTER_MS 1000

/* What a drive left behind was not given: served after the walk. */
struct owed_piece {
    uint64_t off;
    uint32_t len;
    bool zero;                          /* known zeros, not read */
};

struct owed_list {
    struct owed_piece *v;
    size_t n, cap;
};

struct engine {
    struct copy_job *job;
    struct buffer_ring ring;
    struct hash_ctx *hashes[HASH_COUNT];
    /* Per hasher, owned by that hasher thread until it is joined: */
    uint64_t hash_next[HASH_COUNT];     /* offset it expects next */
    bool hash_gap[HASH_COUNT];          /* the stream stopped being in order */
    uint64_t cp_stream, cp_next_mark;   /* verify_alg's stream position and next checkpoint */
    struct hash_ctx *record_hash;       /* verify_alg's hasher: digests of out-of-order pieces */
    size_t records_cap;
    pthread_mutex_t cp_mu;              /* guards job->checkpoints */
    /* Reader-side bookkeeping (the reader thread only): */
    uint64_t seq;                       /* next ring sequence number */
    uint64_t bytes_read;
    struct progress_clock clock;
    double last_save;
    struct block_map prior;             /* what an earlier run had finished (a resume); size 0 if none */
    int nhashers;                       /* consumers 0..nhashers-1 hash; the targets follow */
    struct owed_list *owed;             /* per target, under ring.mu; what the saved map must not call done */
    bool owed_served;
};

/* The next free slot for the reader. */
struct ring_slot *engine_slot(struct engine *e);
/* The next free slot, its buffer all zeros (for SLOT_ZERO). */
struct ring_slot *engine_zero_slot(struct engine *e);
/* Publish the slot filled with [off, off+len) to every consumer. */
void engine_publish(struct engine *e, struct ring_slot *s, uint64_t off, size_t len, enum slot_kind kind);
/* Mark the map under the ring lock, keeping the live bad-sector counters right. */
void engine_mark(struct engine *e, uint64_t off, uint64_t len, char state);
/* Read from the source: 0 read, 1 unreadable (a bad sector), -errno when the
 * source is gone (job->source_msg filled). */
int engine_read(struct engine *e, void *buf, size_t len, uint64_t off);
/* true when the walk must stop: cancelled (job->cancelled) or no target left (*rc). */
bool engine_stop(struct engine *e, int *rc);
void engine_phase(struct engine *e, enum copy_phase phase, char map_status, int pass);

/* Give the drives that were left behind what they were not given, read
 * again from the source, each at its own pace. 0, or -errno. */
int engine_serve_owed(struct engine *e);

/* The phased walk over the map (rescue.c). 0, or -errno. */
int rescue_run(struct engine *e);

#endif
