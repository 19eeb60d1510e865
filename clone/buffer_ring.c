#include "clone/buffer_ring.h"
#include "clone/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ring_init(struct buffer_ring *r, size_t nslots, size_t slot_size, int nconsumers)
{
    memset(r, 0, sizeof(*r));
    r->slots = calloc(nslots, sizeof(*r->slots));
    if (!r->slots)
        return -ENOMEM;
    r->nslots = nslots;
    r->slot_size = slot_size;
    r->nconsumers = nconsumers;
    size_t nc = nconsumers > 0 ? (size_t)nconsumers : 1;
    r->next = calloc(nc, sizeof(*r->next));
    r->held = calloc(nc, sizeof(*r->held));
    r->taken = calloc(nc, sizeof(*r->taken));
    r->may_lag = calloc(nc, sizeof(*r->may_lag));
    r->lagging = calloc(nc, sizeof(*r->lagging));
    if (!r->next || !r->held || !r->taken || !r->may_lag || !r->lagging) {
        ring_destroy(r);
        return -ENOMEM;
    }
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
    free(r->next);
    free(r->held);
    free(r->taken);
    free(r->may_lag);
    free(r->lagging);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->filled);
    pthread_cond_destroy(&r->freed);
}

/* Under mu: one reference of slot s dropped. */
static void drop_ref(struct buffer_ring *r, struct ring_slot *s)
{
    if (--s->refs == 0) {
        if (r->on_release)
            r->on_release(s, r->arg);
        pthread_cond_broadcast(&r->freed);
    }
}

/* Under mu: consumer c leaves every slot it has not taken before sequence number upto. */
static void skip_until(struct buffer_ring *r, int c, uint64_t upto)
{
    for (; r->next[c] < upto; r->next[c]++) {
        struct ring_slot *s = &r->slots[r->next[c] % r->nslots];
        if (r->on_skip)
            r->on_skip(s, c, r->arg);
        drop_ref(r, s);
    }
}

/* Under mu: whether the reader waits on slot s for drives only, while
 * another drive is done with it (else they are all as slow, and waiting is
 * all there is); *proved: each drive that holds it is proved slow. */
static bool waits_for_slow_drives(const struct buffer_ring *r, const struct ring_slot *s, bool *proved)
{
    bool someone_done = false;
    *proved = true;
    for (int c = 0; c < r->nconsumers; c++) {
        bool holds = r->next[c] <= s->seq || (r->taken[c] && r->held[c] == s->seq);
        if (holds && !r->may_lag[c])
            return false;
        if (holds && *proved)
            *proved = r->proved_slow && r->proved_slow(c, r->arg);
        if (!holds && r->may_lag[c])
            someone_done = true;
    }
    return someone_done;
}

/* Under mu: leave behind the drives that hold slot s: each is marked
 * lagging (from its next slot on it takes the newest), and the slots it has
 * not taken up to s are released for it. */
static void leave_behind(struct buffer_ring *r, const struct ring_slot *s)
{
    for (int c = 0; c < r->nconsumers; c++) {
        if (!r->may_lag[c] || (r->next[c] > s->seq && !(r->taken[c] && r->held[c] == s->seq)))
            continue;
        r->lagging[c] = true;
        skip_until(r, c, s->seq + 1);
    }
}

static double ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) * 1e3 + (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

struct ring_slot *ring_acquire(struct buffer_ring *r, uint64_t seq)
{
    struct ring_slot *s = &r->slots[seq % r->nslots];
    pthread_mutex_lock(&r->mu);
    bool waited = false;
    while (s->refs > 0) {
        if (!r->lag_after_ms) {
            pthread_cond_wait(&r->freed, &r->mu);
            continue;
        }
        /* Time lost to slow drives adds up over slots (each is held briefly, by a
         * drive that is slower all along); a whole ring without waiting forgets it. */
        bool proved, slow = waits_for_slow_drives(r, s, &proved);
        if (slow && (proved || r->lag_waited_ms >= r->lag_after_ms)) {
            leave_behind(r, s);
            r->lag_waited_ms = 0;
            /* What is still held is being written right now (one request):
             * leaving it behind again would not free it. */
            if (s->refs > 0)
                pthread_cond_wait(&r->freed, &r->mu);
            continue;
        }
        struct timespec start, until;
        clock_gettime(CLOCK_MONOTONIC, &start);
        clock_gettime(CLOCK_REALTIME, &until);      /* pthread_cond_timedwait's clock */
        until.tv_nsec += 20 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->freed, &r->mu, &until);
        if (slow)
            r->lag_waited_ms += ms_since(&start);
        waited = true;
    }
    if (waited)
        r->unwaited = 0;
    else if (++r->unwaited >= r->nslots)
        r->lag_waited_ms = 0;
    s->seq = seq;
    pthread_mutex_unlock(&r->mu);
    s->kind = SLOT_DATA;
    s->only = -1;
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

struct ring_slot *ring_next(struct buffer_ring *r, int c)
{
    pthread_mutex_lock(&r->mu);
    if (r->next[c] >= r->produced && !r->ended)
        r->lagging[c] = false;          /* waiting for the reader: caught up */
    while (r->next[c] >= r->produced && !r->ended)
        pthread_cond_wait(&r->filled, &r->mu);
    struct ring_slot *s = NULL;
    if (r->next[c] < r->produced) {
        if (r->lagging[c])
            skip_until(r, c, r->produced - 1);     /* the newest: the reader needs the others first */
        s = &r->slots[r->next[c] % r->nslots];
        r->held[c] = r->next[c]++;
        r->taken[c] = true;
    }
    pthread_mutex_unlock(&r->mu);
    return s;
}

void ring_release(struct buffer_ring *r, int c, struct ring_slot *s)
{
    pthread_mutex_lock(&r->mu);
    r->taken[c] = false;
    drop_ref(r, s);
    pthread_mutex_unlock(&r->mu);
}

void ring_stop_lagging(struct buffer_ring *r)
{
    pthread_mutex_lock(&r->mu);
    for (int c = 0; c < r->nconsumers; c++)
        r->lagging[c] = false;
    r->lag_after_ms = 0;
    pthread_mutex_unlock(&r->mu);
}
