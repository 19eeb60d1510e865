#include "devices/dev_health_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More drives than a station's bays; the oldest entry makes room. */
#define CACHE_SLOTS 64
#define CACHE_MAX_WORKERS 16

enum entry_state { ENTRY_FREE, ENTRY_QUEUED, ENTRY_READING, ENTRY_DONE };

struct slot {
    enum entry_state state;
    unsigned major, minor;
    uint64_t diskseq;
    char serial[128];
    char path[64];
    unsigned long used;             /* lookup clock: the least recent is replaced */
    struct dev_health health;
};

struct dev_health_cache {
    pthread_mutex_t mu;             /* guards everything below */
    pthread_cond_t work;            /* a slot was queued, or stop */
    pthread_cond_t done;            /* a read finished */
    struct slot slots[CACHE_SLOTS];
    unsigned long clock;
    unsigned generation;
    int busy;                       /* slots queued or being read */
    bool stop;
    int timeout_s;
    int nworkers;
    pthread_t workers[CACHE_MAX_WORKERS];   /* owned here, joined by close */
};

static bool same_drive(const struct slot *s, const struct dev_drive *d)
{
    return s->state != ENTRY_FREE && s->major == d->major && s->minor == d->minor && s->diskseq == d->diskseq &&
           !strcmp(s->serial, d->serial);
}

static void *worker(void *arg)
{
    struct dev_health_cache *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        struct slot *s = NULL;
        for (int i = 0; i < CACHE_SLOTS && !s; i++)
            if (c->slots[i].state == ENTRY_QUEUED)
                s = &c->slots[i];
        if (c->stop)
            break;
        if (!s) {
            pthread_cond_wait(&c->work, &c->mu);
            continue;
        }
        s->state = ENTRY_READING;
        char path[64];
        snprintf(path, sizeof(path), "%s", s->path);
        pthread_mutex_unlock(&c->mu);
        struct dev_health h;
        dev_health_read_path(path, c->timeout_s, &h);
        pthread_mutex_lock(&c->mu);
        s->health = h;              /* a slot being read is never given to another drive */
        s->state = ENTRY_DONE;
        c->busy--;
        c->generation++;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int dev_health_cache_open(struct dev_health_cache **out, int workers, int timeout_s)
{
    struct dev_health_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->done, NULL);
    c->timeout_s = timeout_s;
    if (workers < 1)
        workers = 1;
    for (int i = 0; i < workers && i < CACHE_MAX_WORKERS; i++) {
        if (pthread_create(&c->workers[i], NULL, worker, c) != 0)
            break;
        c->nworkers++;
    }
    if (c->nworkers == 0) {
        dev_health_cache_close(c);
        return -EAGAIN;
    }
    *out = c;
    return 0;
}

void dev_health_cache_close(struct dev_health_cache *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->work);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->nworkers; i++)
        pthread_join(c->workers[i], NULL);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* A slot for a drive not known yet: a free one, else the least recently
 * looked-up one that is not being read. NULL when all are being read. */
static struct slot *make_room(struct dev_health_cache *c)
{
    struct slot *pick = NULL;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        struct slot *s = &c->slots[i];
        if (s->state == ENTRY_FREE)
            return s;
        if (s->state == ENTRY_DONE && (!pick || s->used < pick->used))
            pick = s;
    }
    return pick;
}

bool dev_health_cache_get(struct dev_health_cache *c, const struct dev_drive *d, struct dev_health *out)
{
    char why[128];
    if (!dev_health_applies(d, why, sizeof(why))) {
        dev_health_unknown(out, why);
        return true;
    }
    pthread_mutex_lock(&c->mu);
    struct slot *s = NULL;
    for (int i = 0; i < CACHE_SLOTS && !s; i++)
        if (same_drive(&c->slots[i], d))
            s = &c->slots[i];
    if (!s && (s = make_room(c))) {
        *s = (struct slot){ .state = ENTRY_QUEUED, .major = d->major, .minor = d->minor, .diskseq = d->diskseq };
        snprintf(s->serial, sizeof(s->serial), "%s", d->serial);
        snprintf(s->path, sizeof(s->path), "%s", d->path);
        c->busy++;
        pthread_cond_signal(&c->work);
    }
    bool known = s && s->state == ENTRY_DONE;
    if (s)
        s->used = ++c->clock;
    if (known)
        *out = s->health;
    pthread_mutex_unlock(&c->mu);
    if (!known)
        dev_health_unknown(out, "not read yet");
    return known;
}

unsigned dev_health_cache_generation(struct dev_health_cache *c)
{
    pthread_mutex_lock(&c->mu);
    unsigned g = c->generation;
    pthread_mutex_unlock(&c->mu);
    return g;
}

void dev_health_cache_wait(struct dev_health_cache *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->busy > 0)
        pthread_cond_wait(&c->done, &c->mu);
    pthread_mutex_unlock(&c->mu);
}
