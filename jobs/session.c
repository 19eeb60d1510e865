#include "jobs/session.h"
#include "common/json_writer.h"
#include "common/safe_file.h"
#include "jobs/job_queue.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void session_start(struct session *s)
{
    memset(s, 0, sizeof(*s));
    s->started = time(NULL);
}

static void add_drive(struct session *s, const struct qjob *j, size_t i, const struct target_view *v)
{
    if (s->ndrives == SESSION_MAX_DRIVES)
        return;
    struct session_drive *d = &s->drives[s->ndrives++];
    const struct job_endpoint *ep = j->job && i < j->job->ntargets ? &j->job->targets[i] : NULL;
    d->job_id = j->id;
    d->verified = v->state == TGT_VERIFIED;
    snprintf(d->path, sizeof(d->path), "%s", j->targets[i]);
    snprintf(d->model, sizeof(d->model), "%s", ep && ep->model[0] ? ep->model : "-");
    snprintf(d->serial, sizeof(d->serial), "%s", ep && ep->serial[0] ? ep->serial : "-");
    snprintf(d->why, sizeof(d->why), "%s", d->verified ? "" : v->why);
    if (d->verified)
        s->drives_verified++;
    else
        s->drives_failed++;
}

void session_add_job(struct session *s, const struct qjob *j)
{
    if (j->state == QJOB_CANCELLED) {
        s->jobs_cancelled++;
        return;
    }
    s->jobs_ended++;
    if (j->state == QJOB_DONE)
        s->jobs_verified++;
    else
        s->jobs_failed++;
    if (!watch_has_targets(j))
        return;
    /* Only verdicts count: a target written but not verified is neither. */
    for (size_t i = 0; i < j->ntargets; i++) {
        struct target_view v;
        watch_target_view(j, i, &v);
        if (v.state == TGT_VERIFIED || v.state == TGT_FAILED)
            add_drive(s, j, i, &v);
    }
}

void session_add_cancelled(struct session *s, int n)
{
    s->jobs_cancelled += n;
}

void session_write_text(const struct session *s, FILE *f)
{
    char since[32];
    struct tm tm;
    localtime_r(&s->started, &tm);
    strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(f, "clonebay session since %s\n", since);
    fprintf(f, "jobs done: %d (%d without a fault, %d failed or with bad sectors), %d cancelled\n", s->jobs_ended,
            s->jobs_verified, s->jobs_failed, s->jobs_cancelled);
    fprintf(f, "drives verified: %d\n", s->drives_verified);
    for (size_t i = 0; i < s->ndrives; i++)
        if (s->drives[i].verified)
            fprintf(f, "  VERIFIED  %-12s %-22s serial %s  (job #%d)\n", s->drives[i].path, s->drives[i].model,
                    s->drives[i].serial, s->drives[i].job_id);
    fprintf(f, "drives failed: %d\n", s->drives_failed);
    for (size_t i = 0; i < s->ndrives; i++)
        if (!s->drives[i].verified)
            fprintf(f, "  FAILED    %-12s %-22s serial %s  (job #%d): %s\n", s->drives[i].path, s->drives[i].model,
                    s->drives[i].serial, s->drives[i].job_id, s->drives[i].why);
}

static void write_json(const struct session *s, FILE *f)
{
    struct json_writer w;
    jw_init(&w, f);
    jw_object_begin(&w, NULL);
    jw_i64(&w, "started", (int64_t)s->started);
    jw_i64(&w, "ended", (int64_t)time(NULL));
    jw_i64(&w, "jobs_done", s->jobs_ended);
    jw_i64(&w, "jobs_without_fault", s->jobs_verified);
    jw_i64(&w, "jobs_failed", s->jobs_failed);
    jw_i64(&w, "jobs_cancelled", s->jobs_cancelled);
    jw_i64(&w, "drives_verified", s->drives_verified);
    jw_i64(&w, "drives_failed", s->drives_failed);
    jw_array_begin(&w, "drives");
    for (size_t i = 0; i < s->ndrives; i++) {
        const struct session_drive *d = &s->drives[i];
        jw_object_begin(&w, NULL);
        jw_i64(&w, "job", d->job_id);
        jw_string(&w, "verdict", d->verified ? "verified" : "failed");
        jw_string(&w, "path", d->path);
        jw_string(&w, "model", d->model);
        jw_string(&w, "serial", d->serial);
        if (!d->verified)
            jw_string(&w, "why", d->why);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_object_end(&w);
    jw_finish(&w);
}

/* Created new (a planted link is refused) and synced: the bench PC is often switched off next. */
static int save_one(const struct session *s, const char *path, bool json)
{
    FILE *f = safe_file_fcreate(path, 0644);
    if (!f)
        return -errno;
    if (json)
        write_json(s, f);
    else
        session_write_text(s, f);
    int rc = fflush(f) || fsync(fileno(f)) ? -errno : 0;
    if (fclose(f) && !rc)
        rc = -errno;
    return rc;
}

int session_save(const struct session *s, const char *dir, char *txt_path, size_t len, struct cb_error *err)
{
    char stamp[32], txt[4200], js[4200];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    mkdir(dir, 0755);
    snprintf(txt, sizeof(txt), "%s/session-%s.txt", dir, stamp);
    snprintf(js, sizeof(js), "%s/session-%s.json", dir, stamp);
    int rc = save_one(s, txt, false);
    if (!rc)
        rc = save_one(s, js, true);
    if (rc)
        return cb_error_set(err, rc, "cannot save the session summary in %s: %s", dir, strerror(-rc));
    snprintf(txt_path, len, "%s", txt);
    return 0;
}
