/* block_map: what a job must copy and how far it got (ddrescue's mapfile).
 *
 * A sorted, gap-free list of regions covering [0, size), each in one state.
 * Saved in GNU ddrescue's mapfile format so ddrescuelog and ddrescueview read
 * it, and so a job can resume after a crash. Saves are atomic (temp file,
 * fsync, rename): a power cut never leaves a torn map. */
#ifndef CB_BLOCK_MAP_H
#define CB_BLOCK_MAP_H

#include "common/cb_error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum map_state {
    MAP_NONTRIED = '?',
    MAP_NONTRIMMED = '*',
    MAP_NONSCRAPED = '/',
    MAP_BAD = '-',
    MAP_FINISHED = '+',
    /* Domains only (never saved, not a ddrescue state): known to be zeros to
     * the filesystem, so never read; written as zeros, hashed as zeros. */
    MAP_ZERO = 'z',
};

#define MAP_MAX_TARGETS 16

struct map_region {
    uint64_t pos, size;
    char state;
};

struct block_map {
    uint64_t size;
    size_t count, cap;
    struct map_region *r;
    /* ddrescue's status line: where the job is and in which phase. */
    uint64_t current_pos;
    char current_status;    /* '?' copying, '*' trimming, '/' scraping, '-' retrying, '+' finished */
    int current_pass;
    /* Which drive this map describes ("serial S4EWNX0R123456"), kept in a
     * comment line so ddrescue ignores it; "" when unknown. */
    char source_id[160];
    /* The targets it was written to ("serial X, N bytes", "file 2049:1234"),
     * one comment line each: a resume onto any other drive is refused. */
    char target_ids[MAP_MAX_TARGETS][160];
    int ntarget_ids;
};

int map_init(struct block_map *m, uint64_t size, char state);
void map_free(struct block_map *m);
int map_copy(struct block_map *dst, const struct block_map *src);

/* Set [pos, pos+len) to state (clipped to the map). 0 or -ENOMEM. */
int map_mark(struct block_map *m, uint64_t pos, uint64_t len, char state);
/* map_mark under mu (when mu is not NULL): for maps a UI reads while a job runs. */
int map_mark_locked(struct block_map *m, pthread_mutex_t *mu, uint64_t pos, uint64_t len, char state);
/* A copy of m taken under mu (when not NULL). */
int map_copy_locked(struct block_map *dst, const struct block_map *src, pthread_mutex_t *mu);

/* Bytes in state; regions in state. */
uint64_t map_bytes(const struct block_map *m, char state);
size_t map_regions(const struct block_map *m, char state);
/* The first region at or after from (clipped to start at from) whose state
 * is one of states. false when none. */
bool map_find(const struct block_map *m, uint64_t from, const char *states,
              uint64_t *pos, uint64_t *len);
/* State of the byte at pos. */
char map_state_at(const struct block_map *m, uint64_t pos);

/* Atomic save in ddrescue's format; cmdline may be NULL. */
int map_save(const struct block_map *m, const char *path, const char *cmdline, struct cb_error *err);
/* Load a ddrescue mapfile; the map must be gap-free from 0. */
int map_load(struct block_map *m, const char *path, struct cb_error *err);

#endif
