#include "jobs/job_watch.h"
#include "common/clock.h"
#include "jobs/qjob.h"

#include <stdio.h>
#include <string.h>

void watch_reset(struct job_watch *w)
{
    memset(w, 0, sizeof(*w));
    w->holding_back = -1;
}

bool watch_has_targets(const struct qjob *j)
{
    return j->job && !j->job->ops->makes_image && j->job->ntargets > 0;
}

static void hms(time_t t, char *buf, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
}

/* Time spent inside requests, counting the one in flight: a drive that hangs
 * in a single write must not look idle (busy_ns grows only when it returns). */
static uint64_t busy_now(const struct engine_target *ct, uint64_t now_ns, uint64_t *since)
{
    *since = atomic_load(&ct->busy_since_ns);
    return atomic_load(&ct->busy_ns) + (*since && now_ns > *since ? now_ns - *since : 0);
}

static void sample_stall(struct qjob *j, size_t i, uint64_t since, uint64_t now_ns, int stall_seconds)
{
    struct watch_target *wt = &j->watch.t[i];
    const struct engine_target *ct = &j->job->ctargets[i];
    char at[16];
    if (since && !atomic_load(&ct->failed) && now_ns - since >= (uint64_t)stall_seconds * 1000000000u) {
        int secs = (int)((now_ns - since) / 1000000000u);
        if (secs > wt->stalled_seconds)
            wt->stalled_seconds = secs;
        if (!wt->stalled_since) {
            wt->stalled_since = time(NULL) - secs;
            if (!wt->stalled_first)
                wt->stalled_first = wt->stalled_since;
            hms(wt->stalled_since, at, sizeof(at));
            qjob_log(j, "target %s not answering since %s", j->targets[i], at);
        }
    } else if (wt->stalled_since) {
        qjob_log(j, "target %s answers again", j->targets[i]);
        wt->stalled_since = 0;
    }
}

/* A target is slow when its own speed is under half the fastest other's;
 * the job is held back by a stalled target first, else by its slowest. */
static void mark_slow(struct qjob *j)
{
    struct job_watch *w = &j->watch;
    const struct job *cj = j->job;
    w->holding_back = -1;
    for (size_t i = 0; i < cj->ntargets; i++) {
        struct watch_target *wt = &w->t[i];
        uint64_t best_other = 0;
        for (size_t k = 0; k < cj->ntargets; k++)
            if (k != i && !atomic_load(&cj->ctargets[k].failed) && w->t[k].own_rate > best_other)
                best_other = w->t[k].own_rate;
        wt->slow = !atomic_load(&cj->ctargets[i].failed) && wt->own_rate && wt->own_rate * 2 < best_other;
        if (wt->stalled_since && (w->holding_back < 0 || !w->t[w->holding_back].stalled_since))
            w->holding_back = (int)i;
        else if (wt->slow && (w->holding_back < 0 ||
                              (!w->t[w->holding_back].stalled_since && wt->own_rate < w->t[w->holding_back].own_rate)))
            w->holding_back = (int)i;
    }
}

/* The source stalls when the reader stopped moving while every target waits for it. */
static void sample_source(struct qjob *j, double now, bool targets_idle, int stall_seconds)
{
    struct job_watch *w = &j->watch;
    const struct copy_progress *p = &j->job->progress;
    int phase = atomic_load(&p->phase);
    uint64_t pos = atomic_load(&p->pos), done = atomic_load(&p->bytes_done);
    bool reading = phase >= PHASE_COPY && phase <= PHASE_RETRY;
    if (!reading || pos != w->last_pos || done != w->last_done || !targets_idle || !w->last_move)
        w->last_move = now;
    w->last_pos = pos;
    w->last_done = done;
    char at[16];
    if (now - w->last_move >= stall_seconds) {
        if (!w->source_stalled_since) {
            w->source_stalled_since = time(NULL) - (time_t)(now - w->last_move);
            if (!w->source_stalled_first)
                w->source_stalled_first = w->source_stalled_since;
            hms(w->source_stalled_since, at, sizeof(at));
            qjob_log(j, "source %s not answering since %s", j->source, at);
        }
    } else if (w->source_stalled_since) {
        qjob_log(j, "source %s answers again", j->source);
        w->source_stalled_since = 0;
    }
}

void watch_sample(struct qjob *j, int stall_seconds)
{
    struct job_watch *w = &j->watch;
    if (!j->job || j->state != QJOB_RUNNING)
        return;
    if (stall_seconds <= 0)
        stall_seconds = WATCH_STALL_DEFAULT;
    double now = cb_seconds(), dt = w->last_sample ? now - w->last_sample : 0;
    uint64_t now_ns = engine_now_ns();
    bool idle = true;
    if (watch_has_targets(j)) {
        for (size_t i = 0; i < j->job->ntargets; i++) {
            const struct engine_target *ct = &j->job->ctargets[i];
            struct watch_target *wt = &w->t[i];
            uint64_t since, busy = busy_now(ct, now_ns, &since);
            uint64_t bytes = atomic_load(&ct->bytes_written) + atomic_load(&ct->bytes_verified);
            idle &= since == 0;
            uint64_t db = bytes - wt->last_bytes, dbusy = busy - wt->last_busy_ns;
            if (dt > 0)
                wt->rate = (wt->rate + (uint64_t)((double)db / dt)) / 2;
            /* Its own speed needs no clock but its busy time, so the first
             * look counts too: a fast target may have written all the ring
             * held before it, and then only wait. */
            if (dbusy > 2000000u) {             /* too little busy time says nothing */
                uint64_t own = (uint64_t)((double)db * 1e9 / (double)dbusy);
                wt->own_rate = wt->own_rate ? (wt->own_rate * 2 + own) / 3 : own;
            }
            if (dbusy > 2000000u || dt > 0) {
                wt->last_bytes = bytes;
                wt->last_busy_ns = busy;
            }
            sample_stall(j, i, since, now_ns, stall_seconds);
        }
        mark_slow(j);
    }
    sample_source(j, now, idle, stall_seconds);
    uint64_t done = atomic_load(&j->job->progress.bytes_done);
    if (dt > 0 && done >= w->last_rate_done) {
        uint64_t inst = (uint64_t)((double)(done - w->last_rate_done) / dt);
        w->done_rate = w->done_rate ? (w->done_rate + inst) / 2 : inst;
    } else if (done < w->last_rate_done) {
        w->done_rate = 0;               /* a new phase counts from 0 again */
    }
    w->last_rate_done = done;
    w->last_sample = now;
}

void watch_notes(struct qjob *j)
{
    struct job_watch *w = &j->watch;
    char at[16];
    if (!j->job)
        return;
    for (size_t i = 0; i < j->job->ntargets && i < JOB_MAX_TARGETS; i++) {
        const struct watch_target *wt = &w->t[i];
        if (!wt->stalled_first)
            continue;
        hms(wt->stalled_first, at, sizeof(at));
        job_note(j->job, "target %s not answering since %s (%d s without an answer%s)", j->targets[i], at,
                       wt->stalled_seconds, wt->stalled_since ? ", still when the job ended" : "");
    }
    if (w->source_stalled_first) {
        hms(w->source_stalled_first, at, sizeof(at));
        job_note(j->job, "source %s not answering since %s%s", j->source, at,
                       w->source_stalled_since ? " (still when the job ended)" : "");
    }
}

/* After the job: from the verifier's verdict (read only once the thread is joined). */
static void view_finished(const struct qjob *j, const struct engine_target *ct, struct target_view *v)
{
    const struct job *cj = j->job;
    if (ct->verified == VERIFY_EQUAL) {
        v->state = TGT_VERIFIED;
    } else if (ct->verified == VERIFY_DIFFERS || ct->verified == VERIFY_UNREADABLE) {
        v->state = TGT_FAILED;
        snprintf(v->why, sizeof(v->why), "%s", ct->verify_msg);
    } else if (ct->verified == VERIFY_CANCELLED || cj->outcome == OUTCOME_CANCELLED) {
        v->state = TGT_CANCELLED;
    } else if (cj->outcome == OUTCOME_FAILED || cj->outcome == OUTCOME_REFUSED || cj->outcome == OUTCOME_MISMATCH) {
        v->state = TGT_FAILED;
        snprintf(v->why, sizeof(v->why), "the job %s: %s", cj->outcome == OUTCOME_REFUSED ? "was refused" : "failed",
                 cj->outcome_msg);
    } else {
        v->state = TGT_WRITTEN;
    }
}

void watch_target_view(const struct qjob *j, size_t i, struct target_view *v)
{
    static const char *const words[] = {
        [TGT_WAITING] = "waiting", [TGT_PREPARING] = "preparing", [TGT_WRITING] = "writing",
        [TGT_VERIFYING] = "verifying", [TGT_WRITTEN] = "written", [TGT_VERIFIED] = "VERIFIED",
        [TGT_FAILED] = "FAILED", [TGT_CANCELLED] = "cancelled",
    };
    memset(v, 0, sizeof(*v));
    const struct job *cj = j->job;
    if (j->state == QJOB_QUEUED || !cj || i >= cj->ntargets) {
        v->state = j->state == QJOB_QUEUED || j->state == QJOB_RUNNING ? TGT_WAITING : TGT_FAILED;
        if (v->state == TGT_FAILED)
            snprintf(v->why, sizeof(v->why), "%s", j->verdict);
        v->word = words[v->state];
        return;
    }
    const struct engine_target *ct = &cj->ctargets[i];
    const struct watch_target *wt = &j->watch.t[i];
    int phase = atomic_load(&cj->progress.phase);
    v->total = atomic_load(&cj->progress.bytes_total);
    v->done = atomic_load(&ct->bytes_written);
    if (atomic_load(&ct->failed)) {
        v->state = TGT_FAILED;
        snprintf(v->why, sizeof(v->why), "%s at byte %llu: %s", io_device_gone(ct->error) ? "drive removed" : "write error",
                 (unsigned long long)ct->error_off, strerror(ct->error < 0 ? -ct->error : ct->error));
    } else if (j->state != QJOB_RUNNING) {
        view_finished(j, ct, v);
        if (v->state == TGT_VERIFIED)
            v->done = atomic_load(&ct->bytes_verified);
    } else if (phase == PHASE_PREPARING) {
        v->state = TGT_PREPARING;
    } else if (phase == PHASE_VERIFY) {
        v->state = TGT_VERIFYING;
        v->done = atomic_load(&ct->bytes_verified);
    } else {
        v->state = TGT_WRITING;
    }
    if (j->state == QJOB_RUNNING) {
        v->rate = wt->rate;
        v->slow = wt->slow;
        v->stalled_since = wt->stalled_since;
    }
    v->word = words[v->state];
    if (v->state == TGT_PREPARING && j->req.join)
        v->word = "waiting for a sender";      /* a receive is prepared once its sender started */
}
