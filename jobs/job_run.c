#include "jobs/job_run.h"
#include "clone/gpt_fix.h"
#include "clone/image_sink.h"
#include "clone/image_stream.h"
#include "jobs/damage.h"
#include "jobs/image_job.h"
#include "jobs/job_health.h"
#include "jobs/job_prepare.h"
#include "jobs/resize_job.h"
#include "common/clock.h"
#include "common/test_hook.h"
#include "common/units.h"
#include "devices/dev_safety.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int job_prepare(const struct job_request *req, struct job **out, struct cb_error *err)
{
    struct job_request named = job_named_request(req);
    struct job *job;
    int rc = job_alloc(&named, &job, err);
    if (!rc && (rc = job_prepare_open(job, req, err)) != 0) {
        job_free(job);
        job = NULL;
    }
    *out = job;
    return rc;
}
int job_preflight(const struct job_request *req, struct cb_error *err)
{
    struct job_request named = job_named_request(req);
    struct job *job;
    int rc = job_alloc(&named, &job, err);
    if (rc)
        return rc;
    rc = job_prepare_check(job, &named, err);
    job_free(job);
    return rc;
}
int job_new_deferred(const struct job_request *req, struct job **out, struct cb_error *err)
{
    struct job_request named = job_named_request(req);
    int rc = job_alloc(&named, out, err);
    if (!rc)
        (*out)->deferred = req;
    return rc;
}
static void finish(struct job *job, enum job_outcome o, const char *msg)
{
    job->outcome = o;
    snprintf(job->outcome_msg, sizeof(job->outcome_msg), "%s", msg ? msg : "");
    job->ended = time(NULL);
    progress_set_phase(&job->progress, PHASE_FINISHED);
    progress_notify(&job->progress);
}
static enum job_outcome run_copy(struct job *job);

/* Right before the first write: every target drive is still the one that
 * was checked (a queued job's drives were confirmed long ago). */
static int recheck_targets(const struct job *job, struct cb_error *err)
{
    struct sysfs_ctx ctx;
    sysfs_init(&ctx, NULL);
    for (size_t i = 0; i < job->ntargets; i++) {
        char why[512];
        if (job->targets[i].has_ident && dev_ident_check(&ctx, &job->targets[i].ident, why, sizeof(why)))
            return cb_error_set(err, -ESTALE, "target %s: %s", job->targets[i].path, why);
    }
    return 0;
}
enum job_outcome job_run(struct job *job)
{
    struct engine_task *e = &job->engine;
    job->started = time(NULL);
    e->source = job_source(job);
    e->targets = job->ctargets;
    e->ntargets = job->ntargets;
    e->map = &job->map;
    e->map_mu = &job->map_mu;
    e->domain = job->used_only || job->resize ? &job->domain : NULL;
    e->map_path = job->map_path[0] ? job->map_path : NULL;
    e->progress = &job->progress;
    e->max_read_rate = job->max_read_rate;
    e->retries = job->retries;
    e->fill = job->fill[0] ? job->fill : NULL;
    /* Verification needs a digest: sha256 when nothing else was asked for. */
    e->verify_alg = HASH_SHA256;
    static const enum hash_alg pref[] = { HASH_SHA256, HASH_SHA512, HASH_SHA1, HASH_MD5 };
    for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
        if (job->hash_mask & (1u << pref[i])) {
            e->verify_alg = pref[i];
            break;
        }
    e->hash_mask = job->hash_mask | (job->verify ? 1u << e->verify_alg : 0);
    struct cb_error err = { 0 };
    cb_test_pause("CLONEBAY_TEST_PAUSE_BEFORE_WRITE");     /* tests swap a drive here */
    if (recheck_targets(job, &err)) {
        finish(job, OUTCOME_REFUSED, err.msg);
        return job->outcome;
    }
    if (job->image_target >= 0 && !job->raw && image_job_open_sink(job, &err)) {
        finish(job, OUTCOME_FAILED, err.msg);
        image_job_finish(job);
        return job->outcome;
    }
    enum job_outcome o = run_copy(job);
    if (job->image_target >= 0)
        image_job_finish(job);
    return job->outcome ? job->outcome : o;
}
void *job_thread(void *arg)
{
    struct job *job = arg;
    struct cb_error err = { 0 };
    struct job_request joined = job->deferred ? *job->deferred : (struct job_request){ 0 };
    if (job->deferred)
        cb_test_pause("CLONEBAY_TEST_PAUSE_PREPARE");   /* tests press keys while a queued job prepares */
    if (joined.join && joined.join->open(job, &joined, &err) != 0)
        finish(job, atomic_load(&job->progress.cancel) ? OUTCOME_CANCELLED : OUTCOME_REFUSED, err.msg);
    else if (job->deferred && job_prepare_open(job, &joined, &err) != 0)
        finish(job, OUTCOME_REFUSED, err.msg);
    else if (atomic_load(&job->progress.cancel))
        finish(job, OUTCOME_CANCELLED, "cancelled while it was being prepared; nothing was written");
    else if (job_run(job) != OUTCOME_REFUSED)
        job_health_after(job);
    if (joined.join)
        joined.join->close(job, &joined);
    atomic_store(&job->run_finished, 1);
    progress_notify(&job->progress);
    return NULL;
}
/* The copy engine's part of a job: copy, verify, GPT fix-up. */
static enum job_outcome run_copy(struct job *job)
{
    struct engine_task *e = &job->engine;

    struct cb_error err = { 0 };
    double t0 = cb_seconds();
    int rc = resize_job_before(job, &err);     /* scratch work only: no target written yet */
    if (rc) {
        finish(job, rc == -ECANCELED ? OUTCOME_CANCELLED : OUTCOME_FAILED, err.msg);
        return job->outcome;
    }
    rc = engine_run(e, &err);
    job->copy_seconds = cb_seconds() - t0;
    if (e->cancelled) {
        finish(job, OUTCOME_CANCELLED, "cancelled by the operator; the map shows what was copied");
        return job->outcome;
    }
    if (!rc && job->sink)
        rc = image_job_seal(job, &err);     /* trailer and seek table: verification reads a whole image */
    if (rc) {
        finish(job, OUTCOME_FAILED, err.msg);
        return job->outcome;
    }
    if (job->verify) {
        cb_test_pause("CLONEBAY_TEST_PAUSE_BEFORE_VERIFY");     /* tests change a target here */
        t0 = cb_seconds();
        rc = engine_verify(e, &err);
        job->verify_seconds = cb_seconds() - t0;
        if (rc) {
            if (atomic_load(&job->progress.cancel))
                finish(job, OUTCOME_CANCELLED, "cancelled by the operator during verification");
            else
                finish(job, OUTCOME_MISMATCH, err.msg);
            return job->outcome;
        }
    }
    /* Restore: the stream must also be what the image says it holds. A
     * fitted restore reads another stream (the partitions, not the gaps):
     * there each frame's own checksum vouches for what was decoded. */
    const struct img_meta *meta = job->image ? &job->image->meta : job->stream ? &job->stream->meta : NULL;
    if (meta && !job->resize) {
        const char *want = meta->digests[e->verify_alg];
        if (want[0] && e->digests[e->verify_alg][0] && strcmp(want, e->digests[e->verify_alg]) != 0) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s decodes to %s %s but its trailer records %s: the image is damaged",
                     job->src.path, hash_name(e->verify_alg), e->digests[e->verify_alg], want);
            finish(job, OUTCOME_MISMATCH, msg);
            return job->outcome;
        }
    }
    /* After verification (it covers the source's bytes): the fitted table and
     * filesystems, or a GPT's backup header moved to the end of larger targets. */
    if (job->resize && (rc = resize_job_after(job, &err)) != 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "the data was copied and verified, but fitting the partitions failed: %s",
                 err.msg);
        finish(job, OUTCOME_FAILED, msg);
        return job->outcome;
    }
    for (size_t i = 0; i < job->ntargets && !job->resize && !job->table_as_is; i++) {
        struct engine_target *t = &job->ctargets[i];
        if (atomic_load(&t->failed) || !t->dev.is_block || t->dev.size <= job->src.size)
            continue;
        int g = gpt_relocate_backup(&t->dev, &err);
        if (g == 1)
            job->gpt_moved[i] = true;
        else if (g < 0)
            job_note(job, "%s", err.msg);
    }
    size_t failed = job->ntargets - engine_live_targets(e);
    char msg[512] = "";
    if (failed)
        snprintf(msg, sizeof(msg), "%zu of %zu targets failed", failed, job->ntargets);
    char a[32];
    if (e->resumed_from_source) {
        units_format_bytes(e->resumed_from_source, a, sizeof(a));
        job_note(job, "resumed: the %s an earlier run had copied were read again from the source for the "
                       "hashes, so verification checks them on the targets", a);
    }
    /* What the source no longer gives cannot be vouched for: never VERIFIED. */
    bool unvouched = e->resumed_unvouched > 0;
    if (unvouched) {
        units_format_bytes(e->resumed_unvouched, a, sizeof(a));
        job_note(job, "resumed: %s an earlier run had copied could not be read again from the source; the "
                       "targets hold them as written then, but they are not verified", a);
        if (!msg[0])
            snprintf(msg, sizeof(msg), "%s from the earlier run could not be checked against the source", a);
    }
    if (map_bytes(&job->map, MAP_BAD)) {
        job_find_damaged(job);      /* before finish: a UI shows the list once the job is over */
        finish(job, OUTCOME_BAD_SECTORS, msg);
    } else if (failed)
        finish(job, OUTCOME_FAILED, msg);
    else
        finish(job, job->verify && !unvouched ? OUTCOME_VERIFIED : OUTCOME_COPIED, msg);
    return job->outcome;
}
void job_free(struct job *job)
{
    if (!job)
        return;
    io_close(&job->src);
    /* A raw image prepared but never run leaves no partial file behind. */
    if (job->raw && (job->outcome == OUTCOME_NONE || job->outcome == OUTCOME_REFUSED) &&
        job->ctargets[0].dev.fd >= 0)
        unlink(job->image_partial);
    for (size_t i = 0; i < JOB_MAX_TARGETS; i++)
        if (job->ctargets[i].dev.fd >= 0)
            io_close(&job->ctargets[i].dev);
    resize_job_free(job);
    map_free(&job->map);
    map_free(&job->domain);
    map_free(&job->image_domain);
    fs_owners_free(&job->damaged);
    pthread_mutex_destroy(&job->map_mu);
    engine_release(&job->engine);
    if (job->image) {
        image_close(job->image);
        free(job->image);
    }
    image_sink_free(job->sink);
    free(job->image_vouched);
    if (job->image_meta) {
        img_meta_free(job->image_meta);
        free(job->image_meta);
    }
    free(job);
}