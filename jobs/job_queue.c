#include "jobs/job_queue.h"
#include "common/safe_file.h"
#include "devices/dev_ident.h"
#include "devices/dev_relation.h"
#include "jobs/job_log.h"
#include "jobs/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

void jq_key_of(const char *path, char *key, size_t len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(key, len, "p:%s", path);
        return;
    }
    if (S_ISBLK(st.st_mode)) {
        struct sysfs_ctx ctx;
        sysfs_init(&ctx, NULL);
        dev_t disk = dev_whole_disk(&ctx, st.st_rdev);
        snprintf(key, len, "b:%u:%u", major(disk), minor(disk));
    } else {
        snprintf(key, len, "f:%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    }
}

static bool writes(const struct qjob *a, const char *key)
{
    for (size_t i = 0; i < a->ntargets; i++)
        if (!strcmp(a->tgt_keys[i], key))
            return true;
    return false;
}

bool jq_conflict(const struct qjob *a, const struct qjob *b)
{
    if (writes(a, b->src_key) || writes(b, a->src_key))
        return true;
    for (size_t i = 0; i < b->ntargets; i++)
        if (writes(a, b->tgt_keys[i]))
            return true;
    return false;
}

int jq_init(struct job_queue *q, const char *reports_dir, int max_parallel, struct cb_error *err)
{
    memset(q, 0, sizeof(*q));
    q->max_parallel = max_parallel;
    q->next_id = 1;
    snprintf(q->reports_dir, sizeof(q->reports_dir), "%s", reports_dir);
    q->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q->event_fd < 0)
        return cb_error_set(err, -errno, "cannot create the job event fd: %s", strerror(errno));
    return 0;
}

static bool active(const struct qjob *j)
{
    return j->state == QJOB_QUEUED || j->state == QJOB_RUNNING;
}

size_t jq_running(const struct job_queue *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->count; i++)
        n += q->jobs[i]->state == QJOB_RUNNING;
    return n;
}

size_t jq_active(const struct job_queue *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->count; i++)
        n += active(q->jobs[i]);
    return n;
}

struct qjob *jq_find(struct job_queue *q, int id)
{
    for (size_t i = 0; i < q->count; i++)
        if (q->jobs[i]->id == id)
            return q->jobs[i];
    return NULL;
}

/* The identity of a block device path now (sysfs only), or all zero. */
static void ident_now(const char *path, struct dev_ident *id)
{
    struct stat st;
    memset(id, 0, sizeof(*id));
    if (stat(path, &st) != 0 || !S_ISBLK(st.st_mode))
        return;
    struct sysfs_ctx ctx;
    sysfs_init(&ctx, NULL);
    if (dev_ident_read(&ctx, st.st_rdev, id))
        memset(id, 0, sizeof(*id));
}

/* What the operator confirmed (req's identities) or, when the caller gave
 * none, the drives as they are at this moment: a queued job keeps these. */
static void keep_identities(struct qjob *j, const struct job_request *req)
{
    if (req->source_ident)
        j->source_ident = *req->source_ident;
    else
        ident_now(j->source, &j->source_ident);
    for (size_t i = 0; i < j->ntargets; i++) {
        if (req->target_idents)
            j->target_idents[i] = req->target_idents[i];
        else if (!job_kind_ops(j->kind)->makes_image)
            ident_now(j->targets[i], &j->target_idents[i]);
    }
    j->req.source_ident = &j->source_ident;
    j->req.target_idents = j->target_idents;
}

int jq_submit(struct job_queue *q, const struct job_request *req, struct cb_error *err)
{
    if (q->count == JQ_MAX_JOBS)
        return cb_error_set(err, -ENOSPC, "the queue is full (%d jobs): clear finished ones first", JQ_MAX_JOBS);
    if (req->ntargets == 0 || req->ntargets > JOB_MAX_TARGETS)
        return cb_error_set(err, -EINVAL, "a job needs 1 to %d targets", JOB_MAX_TARGETS);
    struct qjob *j = calloc(1, sizeof(*j));
    if (!j)
        return cb_error_set(err, -ENOMEM, "out of memory");
    j->kind = req->kind;
    j->req = *req;
    snprintf(j->source, sizeof(j->source), "%s", req->source);
    j->req.source = j->source;
    j->ntargets = req->ntargets;
    for (size_t i = 0; i < req->ntargets; i++) {
        snprintf(j->targets[i], sizeof(j->targets[i]), "%s", req->targets[i]);
        j->target_ptrs[i] = j->targets[i];
        jq_key_of(j->targets[i], j->tgt_keys[i], JQ_KEY);
    }
    j->req.targets = j->target_ptrs;
    if (req->map_path) {
        snprintf(j->map_path, sizeof(j->map_path), "%s", req->map_path);
        j->req.map_path = j->map_path;
    }
    j->req.cmdline = NULL;
    j->req.fill = NULL;
    jq_key_of(j->source, j->src_key, JQ_KEY);
    keep_identities(j, req);
    /* The fast refusals now; the slow ones in the job's thread when it starts. */
    int rc = job_preflight(&j->req, err);
    if (rc) {
        free(j);
        return rc;
    }
    j->id = q->next_id++;
    j->state = QJOB_QUEUED;
    watch_reset(&j->watch);
    qjob_log(j, "queued: %s %s -> %s%s", job_kind_name(j->kind), j->source, j->targets[0],
             j->ntargets > 1 ? " (and more)" : "");
    q->jobs[q->count++] = j;
    return j->id;
}

static bool may_start(const struct job_queue *q, const struct qjob *j)
{
    if (q->max_parallel > 0 && jq_running(q) >= (size_t)q->max_parallel)
        return false;
    for (size_t i = 0; i < q->count; i++) {
        const struct qjob *o = q->jobs[i];
        if (o == j)
            break;          /* earlier jobs first: a later one never overtakes one it conflicts with */
        if (active(o) && jq_conflict(j, o))
            return false;
    }
    return true;
}

static void start(struct job_queue *q, struct qjob *j)
{
    struct cb_error err = { 0 };
    /* Prepared by its own thread: probing a failing drive never stalls the owner's loop. */
    if (job_new_deferred(&j->req, &j->job, &err)) {
        j->state = QJOB_FAILED;
        snprintf(j->verdict, sizeof(j->verdict), "FAILED: %s", err.msg);
        qjob_log(j, "failed: %s", err.msg);
        return;
    }
    j->job->progress.event_fd = q->event_fd;
    if (pthread_create(&j->thread, NULL, job_thread, j->job) != 0) {
        job_free(j->job);
        j->job = NULL;
        j->state = QJOB_FAILED;
        snprintf(j->verdict, sizeof(j->verdict), "FAILED: cannot start a thread");
        return;
    }
    j->state = QJOB_RUNNING;
    qjob_log(j, "started");
}

/* The engine's own facts, not its wording: the source drive stopped answering
 * (an image that fails to decode is damaged, not removed), or a target went away. */
static bool drive_removed(const struct job *cj)
{
    if (cj->engine.source_lost && !cj->image)
        return true;
    for (size_t i = 0; i < cj->ntargets; i++)
        if (atomic_load(&cj->ctargets[i].failed) && io_device_gone(cj->ctargets[i].error))
            return true;
    return false;
}
static void write_reports(struct job_queue *q, struct qjob *j)
{
    char stamp[32], base[4200];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    mkdir(q->reports_dir, 0755);
    snprintf(base, sizeof(base), "%s/%s-job%d-%s", q->reports_dir, stamp, j->id, job_kind_name(j->kind));
    char txt[4300], js[4300];
    snprintf(txt, sizeof(txt), "%s.txt", base);
    snprintf(js, sizeof(js), "%s.json", base);
    FILE *f = safe_file_fcreate(txt, 0644);     /* new: a link planted under the name is refused, never followed */
    struct cb_error err = { 0 };
    if (!f || report_save_json(j->job, CLONEBAY_VERSION, js, &err)) {
        qjob_log(j, "cannot write the report in %s: %s", q->reports_dir, err.msg[0] ? err.msg : strerror(errno));
    } else {
        snprintf(j->report_path, sizeof(j->report_path), "%s", txt);
        qjob_log(j, "report: %s (and .json)", txt);
    }
    if (f) {
        report_write_text(j->job, CLONEBAY_VERSION, f);
        fflush(f);
        fsync(fileno(f));   /* a bench PC is often switched off right after the job */
        fclose(f);
    }
}

/* Log the phases the job entered since the last look. true when any. */
static bool log_phases(struct qjob *j)
{
    const struct copy_progress *p = &j->job->progress;
    unsigned n = atomic_load(&p->phases_entered);
    bool any = j->phases_logged < n;
    if (n - j->phases_logged > 32)      /* more than the history holds: log what is left */
        j->phases_logged = n - 32;
    for (; j->phases_logged < n; j->phases_logged++)
        qjob_log(j, "phase: %s",
                 progress_phase_name((enum copy_phase)atomic_load(&p->phase_history[j->phases_logged % 32])));
    return any;
}

static void reap(struct job_queue *q, struct qjob *j)
{
    pthread_join(j->thread, NULL);
    log_phases(j);
    struct job *cj = j->job;
    const struct engine_task *e = &cj->engine;
    const char *alg = hash_name(e->verify_alg);
    const char *hex = e->digests[e->verify_alg];
    switch (cj->outcome) {
    case OUTCOME_VERIFIED:
    case OUTCOME_COPIED:
        j->state = QJOB_DONE;
        snprintf(j->verdict, sizeof(j->verdict), "%s %s %s",
                 cj->outcome == OUTCOME_VERIFIED ? "VERIFIED" : "COPIED (not verified)", alg, hex);
        break;
    case OUTCOME_BAD_SECTORS:
        j->state = QJOB_DONE_BAD;
        snprintf(j->verdict, sizeof(j->verdict), "%llu BAD SECTORS (written as zeros) %s %s",
                 (unsigned long long)(map_bytes(&cj->map, MAP_BAD) / (cj->src.sector ? cj->src.sector : 512)),
                 alg, hex);
        break;
    case OUTCOME_CANCELLED:
        j->state = QJOB_CANCELLED;
        snprintf(j->verdict, sizeof(j->verdict), "CANCELLED");
        break;
    case OUTCOME_REFUSED:
        j->state = QJOB_FAILED;
        snprintf(j->verdict, sizeof(j->verdict), "REFUSED: %s", cj->outcome_msg);
        qjob_log(j, "refused, nothing was written: %s", cj->outcome_msg);
        job_close_devices(cj);
        return;
    case OUTCOME_MISMATCH:
        j->state = QJOB_FAILED;
        snprintf(j->verdict, sizeof(j->verdict), "MISMATCH: %s", cj->outcome_msg);
        break;
    default:
        j->state = QJOB_FAILED;
        snprintf(j->verdict, sizeof(j->verdict), "FAILED: %s%s", drive_removed(cj) ? "drive removed: " : "",
                 cj->outcome_msg);
        break;
    }
    qjob_log(j, "%s", j->verdict);
    watch_notes(j);
    write_reports(q, j);
    job_close_devices(cj);    /* finished: the drives are free for the next job */
}

bool jq_tick(struct job_queue *q)
{
    bool changed = false;
    uint64_t v;
    ssize_t n = read(q->event_fd, &v, sizeof(v));
    (void)n;
    for (size_t i = 0; i < q->count; i++) {
        struct qjob *j = q->jobs[i];
        if (j->state == QJOB_RUNNING) {
            changed |= log_phases(j);
            if (atomic_load(&j->job->run_finished)) {
                reap(q, j);
                changed = true;
            }
        }
    }
    for (size_t i = 0; i < q->count; i++) {
        struct qjob *j = q->jobs[i];
        if (j->state == QJOB_QUEUED && may_start(q, j)) {
            start(q, j);
            changed = true;
        }
    }
    return changed;
}

void jq_sample_rates(struct job_queue *q)
{
    for (size_t i = 0; i < q->count; i++) {
        struct qjob *j = q->jobs[i];
        if (j->state != QJOB_RUNNING)
            continue;
        if (j->nrates == JQ_RATE_SAMPLES) {
            memmove(j->rates, j->rates + 1, sizeof(j->rates[0]) * (JQ_RATE_SAMPLES - 1));
            j->nrates--;
        }
        j->rates[j->nrates++] = atomic_load(&j->job->progress.rate_now);
        watch_sample(j, q->stall_seconds);
    }
}

void jq_cancel(struct job_queue *q, int id)
{
    struct qjob *j = jq_find(q, id);
    if (!j)
        return;
    if (j->state == QJOB_QUEUED) {
        j->state = QJOB_CANCELLED;
        snprintf(j->verdict, sizeof(j->verdict), "CANCELLED before it started");
        qjob_log(j, "cancelled while queued");
    } else if (j->state == QJOB_RUNNING && !j->cancel_asked) {
        j->cancel_asked = true;
        atomic_store(&j->job->progress.cancel, 1);
        qjob_log(j, "cancel asked");
    }
}

static void free_job(struct qjob *j)
{
    if (j->job)
        job_free(j->job);
    free(j);
}

void jq_clear_finished(struct job_queue *q)
{
    size_t k = 0;
    for (size_t i = 0; i < q->count; i++) {
        if (active(q->jobs[i]))
            q->jobs[k++] = q->jobs[i];
        else
            free_job(q->jobs[i]);
    }
    q->count = k;
}

void jq_forget(struct job_queue *q, int id)
{
    for (size_t i = 0; i < q->count; i++)
        if (q->jobs[i]->id == id && !active(q->jobs[i])) {
            free_job(q->jobs[i]);
            memmove(&q->jobs[i], &q->jobs[i + 1], (q->count - i - 1) * sizeof(q->jobs[0]));
            q->count--;
            return;
        }
}

void jq_withdraw(struct job_queue *q, int id)
{
    size_t before = q->count;
    struct qjob *j = jq_find(q, id);
    /* It gets no report: its refusal must still reach the log on disk. */
    if (j && !active(j))
        job_log_job(q->reports_dir, j, "withdrawn, refused before it started");
    jq_forget(q, id);
    if (q->count < before && id == q->next_id - 1)
        q->next_id--;
}

void jq_shutdown(struct job_queue *q)
{
    for (size_t i = 0; i < q->count; i++)
        jq_cancel(q, q->jobs[i]->id);
    for (size_t i = 0; i < q->count; i++)
        if (q->jobs[i]->state == QJOB_RUNNING)
            reap(q, q->jobs[i]);
    for (size_t i = 0; i < q->count; i++)
        free_job(q->jobs[i]);
    q->count = 0;
    if (q->event_fd >= 0)
        close(q->event_fd);
    q->event_fd = -1;
}

struct qjob *jq_take_ended(struct job_queue *q)
{
    for (size_t i = 0; i < q->count; i++) {
        struct qjob *j = q->jobs[i];
        if (!active(j) && !j->end_taken) {
            j->end_taken = true;
            return j;
        }
    }
    return NULL;
}

bool jq_uses_drive(const struct job_queue *q, unsigned maj, unsigned min)
{
    char key[JQ_KEY];
    snprintf(key, sizeof(key), "b:%u:%u", maj, min);
    for (size_t i = 0; i < q->count; i++) {
        const struct qjob *j = q->jobs[i];
        if (active(j) && (!strcmp(j->src_key, key) || writes(j, key)))
            return true;
    }
    return false;
}
