/* verify: re-read every target from the media and compare with the source's
 * digest, one thread per target (they are different drives). Checkpoint
 * prefix digests taken during the copy locate the first differing range. */
#include "clone/engine.h"

#include <fcntl.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VERIFY_BUF (4u << 20)   /* one per target: 16 targets stay within 64 MiB */

struct verifier {
    struct engine_task *job;
    struct engine_target *t;
    _Atomic uint64_t *done;
    _Atomic size_t *running;        /* verifiers not finished yet */
};

/* Hash len bytes, stopping at checkpoint stream positions to compare. Returns
 * false at the first differing checkpoint (t->diff_* filled). */
static bool hash_checked(struct verifier *v, struct hash_ctx *h, const char *buf, size_t len,
                         uint64_t *stream, size_t *next_cp)
{
    struct engine_task *job = v->job;
    while (len) {
        size_t n = len;
        const struct engine_checkpoint *cp =
            *next_cp < job->ncheckpoints ? &job->checkpoints[*next_cp] : NULL;
        if (cp && cp->stream_pos - *stream < n)
            n = (size_t)(cp->stream_pos - *stream);
        hash_update(h, buf, n);
        *stream += n;
        buf += n;
        len -= n;
        if (cp && *stream == cp->stream_pos) {
            char hex[HASH_MAX_HEX];
            hash_peek_hex(h, hex);
            if (strcmp(hex, cp->hex) != 0) {
                v->t->diff_from = *next_cp ? job->checkpoints[*next_cp - 1].disk_off : 0;
                v->t->diff_to = cp->disk_off;
                return false;
            }
            (*next_cp)++;
        }
    }
    return true;
}

/* Pieces read out of order (engine_record): the target must hold exactly what
 * was read from the source. Fed chunk by chunk in disk order; false at the
 * first piece that differs (t->diff_* filled). */
struct record_check {
    struct hash_ctx *h;
    size_t next;            /* the record being checked */
    uint64_t fed_to;        /* its bytes fed so far end here */
};

static bool check_records(struct verifier *v, struct record_check *rc, const char *buf, size_t len, uint64_t off)
{
    struct engine_task *job = v->job;
    uint64_t end = off + len;
    while (rc->next < job->nrecords) {
        const struct engine_record *r = &job->records[rc->next];
        uint64_t rend = r->off + r->len;
        if (r->off >= end)
            return true;
        uint64_t a = r->off > off ? r->off : off, b = rend < end ? rend : end;
        if (a != (rc->fed_to > r->off ? rc->fed_to : r->off)) {
            /* Part of it was not read in this walk (cannot happen for a finished job): skip it. */
            unsigned char md[HASH_MAX_RAW];
            hash_final_raw(rc->h, md);
            rc->next++;
            rc->fed_to = 0;
            continue;
        }
        hash_update(rc->h, buf + (a - off), (size_t)(b - a));
        rc->fed_to = b;
        if (b < rend)
            return true;            /* continues in the next chunk */
        unsigned char md[HASH_MAX_RAW];
        hash_final_raw(rc->h, md);
        rc->next++;
        rc->fed_to = 0;
        if (memcmp(md, r->sha256, 32) != 0) {
            v->t->diff_from = r->off;
            v->t->diff_to = rend;
            return false;
        }
    }
    return true;
}

static void *verify_main(void *arg)
{
    struct verifier *v = arg;
    struct engine_task *job = v->job;
    struct engine_target *t = v->t;
    /* From the media: a drive or file directly, an image decoded frame by
     * frame (zstd checks each frame's checksum) as its file holds it. */
    struct sink_reader *dev = NULL;
    struct cb_error err = { 0 };
    char *buf = io_alloc(VERIFY_BUF);
    struct hash_ctx *h = hash_new(job->verify_alg);
    if (!buf || !h || engine_target_ops(t)->open_reader(t, true, &dev, &err) != 0) {
        t->verified = VERIFY_UNREADABLE;
        snprintf(t->verify_msg, sizeof(t->verify_msg), "%s", err.msg[0] ? err.msg : "out of memory");
        io_free(buf);
        hash_free(h);
        atomic_fetch_sub(v->running, 1);
        return NULL;
    }
    uint64_t pos = 0, rpos, rlen, stream = 0;
    size_t next_cp = 0;
    bool same = true, piece_differs = false;
    struct record_check rc = { .h = job->nrecords ? hash_new(HASH_SHA256) : NULL };
    /* The same walk as the copy: everything written, in slot-aligned chunks. */
    while (same && t->verified == VERIFY_NOT_RUN && map_find(job->map, pos, "+-", &rpos, &rlen)) {
        for (uint64_t off = rpos; off < rpos + rlen;) {
            uint64_t end = (off / VERIFY_BUF + 1) * VERIFY_BUF;
            if (end > rpos + rlen)
                end = rpos + rlen;
            size_t len = (size_t)(end - off);
            engine_target_begin(t);
            ssize_t r = dev->read(dev, buf, len, off);
            engine_target_end(t, &t->bytes_verified, r > 0 ? (uint64_t)r : 0);
            if (r != (ssize_t)len) {
                t->verified = VERIFY_UNREADABLE;
                snprintf(t->verify_msg, sizeof(t->verify_msg), "target %s could not be read back at byte %llu: %s",
                         t->dev.path, (unsigned long long)off, r < 0 ? strerror((int)-r) : "short read");
                break;
            }
            if (atomic_load(&job->progress->cancel)) {
                t->verified = VERIFY_CANCELLED;
                snprintf(t->verify_msg, sizeof(t->verify_msg), "verification of %s was cancelled", t->dev.path);
                break;
            }
            if (rc.h && !check_records(v, &rc, buf, len, off)) {
                same = false;
                piece_differs = true;
                break;
            }
            if (!hash_checked(v, h, buf, len, &stream, &next_cp)) {
                same = false;
                break;
            }
            atomic_fetch_add(v->done, len);
            off = end;
        }
        pos = rpos + rlen;
    }
    if (t->verified == VERIFY_NOT_RUN) {
        hash_final_hex(h, t->verify_hex);
        if (same && strcmp(t->verify_hex, job->digests[job->verify_alg]) == 0) {
            t->verified = VERIFY_EQUAL;
        } else {
            t->verified = VERIFY_DIFFERS;
            if (same) {     /* differs after the last checkpoint */
                t->diff_from = job->ncheckpoints ? job->checkpoints[job->ncheckpoints - 1].disk_off : 0;
                t->diff_to = job->map->size;
            }
            t->verify_hex[0] = '\0';
            if (piece_differs)
                snprintf(t->verify_msg, sizeof(t->verify_msg),
                         "target %s holds other data than was read from the source between byte %llu and byte %llu",
                         t->dev.path, (unsigned long long)t->diff_from, (unsigned long long)t->diff_to);
            else
                snprintf(t->verify_msg, sizeof(t->verify_msg),
                         "target %s differs from the source: first difference between byte %llu and byte %llu",
                         t->dev.path, (unsigned long long)t->diff_from, (unsigned long long)t->diff_to);
        }
    }
    dev->close(dev);
    io_free(buf);
    hash_free(h);
    hash_free(rc.h);
    atomic_fetch_sub(v->running, 1);
    return NULL;
}

int engine_verify(struct engine_task *job, struct cb_error *err)
{
    struct copy_progress *p = job->progress;
    _Atomic uint64_t done = 0;
    size_t live = engine_live_targets(job);
    uint64_t domain = map_bytes(job->map, MAP_FINISHED) + map_bytes(job->map, MAP_BAD);
    progress_set_phase(p, PHASE_VERIFY);
    atomic_store(&p->bytes_total, domain);
    atomic_store(&p->bytes_done, 0);
    progress_notify(p);
    struct verifier *vs = calloc(job->ntargets, sizeof(*vs));
    pthread_t *th = calloc(job->ntargets, sizeof(*th));
    if (!vs || !th) {
        free(vs);
        free(th);
        return cb_error_set(err, -ENOMEM, "out of memory starting verification");
    }
    size_t started = 0;
    _Atomic size_t running = live;
    for (size_t i = 0; i < job->ntargets; i++) {
        if (atomic_load(&job->targets[i].failed))
            continue;
        job->targets[i].verified = VERIFY_NOT_RUN;
        vs[started] = (struct verifier){ job, &job->targets[i], &done, &running };
        pthread_create(&th[started], NULL, verify_main, &vs[started]);
        started++;
    }
    /* Progress: the average over the targets being read. */
    while (atomic_load(&running) > 0) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        atomic_store(&p->bytes_done, live ? atomic_load(&done) / live : 0);
        progress_notify(p);
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    atomic_store(&p->bytes_done, domain);
    free(vs);
    free(th);
    int rc = 0;
    for (size_t i = 0; i < job->ntargets; i++) {
        struct engine_target *t = &job->targets[i];
        if (!atomic_load(&t->failed) && t->verified != VERIFY_EQUAL && !rc)
            rc = cb_error_set(err, -EIO, "%s", t->verify_msg);
    }
    return rc;
}
