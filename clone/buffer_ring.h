/* buffer_ring: a fixed set of aligned buffers between one reader and N consumers.
 *
 * The reader fills slots in sequence; every consumer (each hash algorithm,
 * each target's writer) sees every slot in the same order at its own pace; a
 * slot returns to the reader when the last consumer releases it. Memory is
 * nslots * slot_size whatever the disk size, and a slow target only slows
 * the others once it is nslots buffers behind. Because each consumer
 * releases in order, slots are released in sequence order, so the release
 * hook sees the stream in order (it marks the map finished).
 *
 * A slow drive must not hold the fast ones to its pace: when the reader has
 * lost lag_after_ms, over recent slots, waiting for consumers marked may_lag
 * while another such consumer was done with the slot, those are left behind
 * ("lagging"): the slots they have not taken are released for them through
 * on_skip (the engine owes them and serves them later), and from then on
 * each takes the newest slot, until it catches up. A drive the owner's
 * proved_slow hook names (its own measured speed well under another's) is
 * left behind as soon as the reader would wait for it alone: a known pace
 * is no hiccup, and waiting for it would only cost the fast ones. */
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
    SLOT_OWED,              /* for one consumer only (ring_slot.only): what it was left behind on */
};

struct ring_slot {
    void *buf;              /* slot_size bytes, IO_ALIGN-aligned; written by the reader only */
    uint64_t off;           /* source offset of buf[0] */
    size_t len;             /* bytes of data */
    enum slot_kind kind;
    bool zeroed;            /* buf is all zeros still (the reader skips the memset); reader only */
    int only;               /* SLOT_OWED: the consumer it is for */
    enum slot_kind owed_kind;   /* SLOT_OWED: what it holds (data or zeros) */
    uint64_t seq;           /* the sequence number it holds; under ring.mu */
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
    /* Per consumer, under mu: */
    uint64_t *next;         /* the sequence number it takes next */
    uint64_t *held;         /* the one it holds, while taken */
    bool *taken;
    bool *may_lag;          /* set before the consumers start */
    bool *lagging;
    unsigned lag_after_ms;  /* 0: the reader always waits */
    double lag_waited_ms;   /* the reader's time lost to slow drives lately (reader only, under mu) */
    size_t unwaited;        /* slots acquired in a row without waiting */
    /* Called under mu when the last consumer releases a slot. */
    void (*on_release)(struct ring_slot *slot, void *arg);
    /* Called under mu when a lagging consumer is left behind on a slot. */
    void (*on_skip)(struct ring_slot *slot, int consumer, void *arg);
    /* Called under mu: whether may_lag consumer c is slower than another all
     * along (not a hiccup); NULL: only the time lost counts. */
    bool (*proved_slow)(int consumer, void *arg);
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

/* Consumer c (0 .. nconsumers-1): its next slot, or NULL at the end of the stream. */
struct ring_slot *ring_next(struct buffer_ring *r, int c);
void ring_release(struct buffer_ring *r, int c, struct ring_slot *slot);
/* Reader: no consumer is left behind any more (all caught up: call after a drain). */
void ring_stop_lagging(struct buffer_ring *r);

#endif
