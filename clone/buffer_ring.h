/* buffer_ring: a fixed set of aligned buffers between one reader and N consumers.
 *
 * The reader fills slots in sequence; every consumer (each hash algorithm,
 * each target's writer) sees every slot in the same order at its own pace; a
 * slot returns to the reader when the last consumer releases it. Memory is
 * nslots * slot_size whatever the disk size, and a slow target only slows
 * the others once it is nslots buffers behind. Because each consumer
 * releases in order, slots are released in sequence order, so the release
 * hook sees the stream in order (it marks the map finished). */
#ifndef CB_BUFFER_RING_H
#define CB_BUFFER_RING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum slot_kind {
    SLOT_DATA,              /* read from the source: finished once on every target */
    SLOT_FILL,              /* the fill written over unreadable sectors */
    SLOT_ZERO,              /* known zeros (a MAP_ZERO domain region): not read, buf holds zeros;
                             * finished once on every target, like data */
};

struct ring_slot {
    void *buf;              /* slot_size bytes, IO_ALIGN-aligned; written by the reader only */
    uint64_t off;           /* source offset of buf[0] */
    size_t len;             /* bytes of data */
    enum slot_kind kind;
    bool zeroed;            /* buf is all zeros still (the reader skips the memset); reader only */
    int refs;               /* consumers yet to release it; under ring.mu */
};

struct buffer_ring {
    pthread_mutex_t mu;
    pthread_cond_t filled;  /* a slot was published, or the stream ended */
    pthread_cond_t freed;   /* a slot was released */
    struct ring_slot *slots;
    size_t nslots, slot_size;
    int nconsumers;
    uint64_t produced;      /* slots published so far; under mu */
    bool ended;             /* no more slots will come; under mu */
    /* Called under mu when the last consumer releases a slot. */
    void (*on_release)(struct ring_slot *slot, void *arg);
    void *arg;
};

int ring_init(struct buffer_ring *r, size_t nslots, size_t slot_size, int nconsumers);
void ring_destroy(struct buffer_ring *r);

/* Reader: wait for the next free slot (sequence number seq). */
struct ring_slot *ring_acquire(struct buffer_ring *r, uint64_t seq);
/* Reader: publish the slot acquired for seq to every consumer. */
void ring_publish(struct buffer_ring *r);
/* Reader: no more slots. */
void ring_end(struct buffer_ring *r);
/* Reader: wait until every published slot has been released. */
void ring_drain(struct buffer_ring *r);

/* Consumer: slot seq, or NULL at the end of the stream. */
struct ring_slot *ring_next(struct buffer_ring *r, uint64_t seq);
void ring_release(struct buffer_ring *r, struct ring_slot *slot);

#endif
