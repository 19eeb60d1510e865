#include "clone/buffer_ring.h"
#include "clone/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ring_init(struct buffer_ring *r, size_t nslots, size_t slot_size, int nconsumers)
{
    memset(r, 0, sizeof(*r));
    r->slots = calloc(nslots, sizeof(*r->slots));
    if (!r->slots)
        return -ENOMEM;
    r->nslots = nslots;
    r->slot_size = slot_size;
    r->nconsumers = nconsumers;
    for (size_t i = 0; i < nslots; i++) {
        r->slots[i].buf = io_alloc(slot_size);
        if (!r->slots[i].buf) {
            ring_destroy(r);
            return -ENOMEM;
        }
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->filled, NULL);
    pthread_cond_init(&r->freed, NULL);
    return 0;
}

void ring_destroy(struct buffer_ring *r)
{
    if (!r->slots)
        return;
    for (size_t i = 0; i < r->nslots; i++)
        io_free(r->slots[i].buf);
    free(r->slots);
    r->slots = NULL;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->filled);
    pthread_cond_destroy(&r->freed);
}

struct ring_slot *ring_acquire(struct buffer_ring *r, uint64_t seq)
{
    struct ring_slot *s = &r->slots[seq % r->nslots];
    pthread_mutex_lock(&r->mu);
    while (s->refs > 0)
        pthread_cond_wait(&r->freed, &r->mu);
    pthread_mutex_unlock(&r->mu);
    s->kind = SLOT_DATA;
    return s;
}

void ring_publish(struct buffer_ring *r)
{
    pthread_mutex_lock(&r->mu);
    struct ring_slot *s = &r->slots[r->produced % r->nslots];
    s->refs = r->nconsumers;
    r->produced++;
    if (r->nconsumers == 0 && r->on_release)
        r->on_release(s, r->arg);
    pthread_cond_broadcast(&r->filled);
    pthread_mutex_unlock(&r->mu);
}

void ring_end(struct buffer_ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->ended = true;
    pthread_cond_broadcast(&r->filled);
    pthread_mutex_unlock(&r->mu);
}

void ring_drain(struct buffer_ring *r)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nslots; i++)
        while (r->slots[i].refs > 0)
            pthread_cond_wait(&r->freed, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

struct ring_slot *ring_next(struct buffer_ring *r, uint64_t seq)
{
    pthread_mutex_lock(&r->mu);
    while (seq >= r->produced && !r->ended)
        pthread_cond_wait(&r->filled, &r->mu);
    struct ring_slot *s = seq < r->produced ? &r->slots[seq % r->nslots] : NULL;
    pthread_mutex_unlock(&r->mu);
    return s;
}

void ring_release(struct buffer_ring *r, struct ring_slot *s)
{
    pthread_mutex_lock(&r->mu);
    if (--s->refs == 0) {
        if (r->on_release)
            r->on_release(s, r->arg);
        pthread_cond_broadcast(&r->freed);
    }
    pthread_mutex_unlock(&r->mu);
}
