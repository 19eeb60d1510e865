/* engine: what the copy engine (copy.c: the buffer ring, the hashers, the
 * targets' writers, checkpoints, progress) offers a walk over the map
 * (rescue.c). The engine is opaque here: a walk reads, publishes and marks
 * through these functions only. Not a public header. */
#ifndef CB_ENGINE_WALK_H
#define CB_ENGINE_WALK_H

#include "clone/block_map.h"
#include "clone/buffer_ring.h"
#include "clone/progress.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads in error areas go 64 KiB at a time (ddrescue's cluster size). */
#define RESCUE_CLUSTER (64u << 10)

struct engine;

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

/* What a walk asks of the job, without reaching into it. */
/* map_find on the job's map (under the engine's lock: the map changes as the walk goes). */
bool engine_find(struct engine *e, uint64_t from, const char *states, uint64_t *pos, uint64_t *len);
/* NULL: all of the source; else only its MAP_FINISHED and MAP_ZERO regions are copied. */
const struct block_map *engine_domain(const struct engine *e);
size_t engine_chunk(const struct engine *e);     /* the largest read, a slot */
size_t engine_sector(const struct engine *e);    /* the source's sector */
uint64_t engine_size(const struct engine *e);    /* the source's */
bool engine_cancelled(const struct engine *e);
const char *engine_fill(const struct engine *e); /* NULL: zeros */
int engine_retries(const struct engine *e);
/* Wait until every target has what was published. */
void engine_drain(struct engine *e);

/* The phased walk over the map (rescue.c). 0, or -errno. */
int rescue_run(struct engine *e);

#endif
