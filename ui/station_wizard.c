/* station_wizard: the new-job steps: source, targets (or an image path),
 * options, confirmation. Nothing is queued before Y on the confirmation. */
#include "common/units.h"
#include "jobs/job_log.h"
#include "ui/station.h"
#include "ui/station_wizard.h"

#include <sys/stat.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A refusal where Y was pressed: shown whole on the confirmation screen, and
 * kept in the reports' jobs.log as a job's refusal would be. */
static void refused(struct station *st, const char *why)
{
    struct wizard *w = &st->wiz;
    snprintf(w->error, sizeof(w->error), "refused, nothing was written: %s", why);
    char targets[JOB_MAX_TARGETS * 34] = "";
    for (size_t i = 0; i < w->npicked && w->kind != JOB_IMAGE; i++)
        snprintf(targets + strlen(targets), sizeof(targets) - strlen(targets), "%s%s", i ? ", " : "",
                 w->picked[i].name);
    job_log_append(st->q.reports_dir, "%s %s -> %s: refused, nothing was written: %s", job_kind_name(w->kind),
                   w->source, w->kind == JOB_IMAGE ? w->path : targets, why);
}

void wizard_start(struct station *st)
{
    struct wizard *w = &st->wiz;
    wizard_retire_preview(st);
    memset(w, 0, sizeof(*w));
    w->step = WIZ_SOURCE;
    w->cursor = st->sel_drive;
    w->hash_mask = 1u << HASH_SHA256;
    w->verify = true;
    w->level = 3;
    w->retries = 1;
    st->mode = MODE_WIZARD;
}

const char *wizard_unpickable(const struct station *st, const struct dev_drive *d)
{
    static char why[96];
    const struct wizard *w = &st->wiz;
    if (w->kind != JOB_RESTORE && w->source_is_drive && dev_ident_matches(&w->source_id, d, NULL, 0))
        return "it is the source";
    const char *unwritable = station_drive_unwritable(d);
    if (unwritable)
        return unwritable;
    /* A smaller drive can take a partitioned source when the resize planner
     * fits the partitions onto it: that is decided (and explained) when Y is
     * pressed, before anything is written. */
    if (d->size < w->source_size && !w->source_table) {
        char a[32], b[32];
        units_format_bytes(d->size, a, sizeof(a));
        units_format_bytes(w->source_size, b, sizeof(b));
        snprintf(why, sizeof(why), "too small (%s < %s)", a, b);
        return why;
    }
    return NULL;
}

bool wizard_picked(const struct wizard *w, const struct dev_drive *d)
{
    for (size_t i = 0; i < w->npicked; i++)
        if (dev_ident_matches(&w->picked[i], d, NULL, 0))
            return true;
    return false;
}

/* "marked drive loop3 was removed", or what changed when another drive took its place. */
static void dropped_why(struct station *st, const struct dev_ident *id, char *buf, size_t len)
{
    for (size_t i = 0; i < st->devs.count; i++) {
        const struct dev_drive *d = &st->devs.drives[i];
        char why[300];
        if (d->major == id->major && d->minor == id->minor && !dev_ident_matches(id, d, why, sizeof(why))) {
            snprintf(buf, len, "marked drive %s is not the same drive any more (%s): its mark was dropped", id->name,
                     why);
            return;
        }
    }
    snprintf(buf, len, "marked drive %s (%s) was removed: its mark was dropped", id->name,
             id->model[0] ? id->model : id->backing[0] ? id->backing : "no model");
}

void wizard_follow_drives(struct station *st)
{
    struct wizard *w = &st->wiz;
    if (st->mode != MODE_WIZARD || w->step == WIZ_STARTING)
        return;
    if (w->source_is_drive && w->step != WIZ_SOURCE && !dev_ident_find(&st->devs, &w->source_id)) {
        snprintf(w->error, sizeof(w->error), "the source drive %s was removed or replaced: choose the source again",
                 w->source_id.name);
        wizard_retire_preview(st);
        w->step = WIZ_SOURCE;
        w->source_is_drive = false;
        w->npicked = 0;
        w->cursor = 0;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < w->npicked; i++) {
        if (dev_ident_find(&st->devs, &w->picked[i])) {
            w->picked[k++] = w->picked[i];
            continue;
        }
        dropped_why(st, &w->picked[i], w->error, sizeof(w->error));
    }
    /* The set the operator is about to confirm changed: back to the marks. */
    if (k < w->npicked && (w->step == WIZ_OPTIONS || w->step == WIZ_CONFIRM) && w->kind != JOB_IMAGE) {
        wizard_retire_preview(st);
        w->step = WIZ_TARGETS;
    }
    w->npicked = k;
    if (w->cursor > (int)st->devs.count)
        w->cursor = (int)st->devs.count;
}

void wizard_tick(struct station *st)
{
    struct wizard *w = &st->wiz;
    for (int i = 0; i < st->nstale; i++)
        if (job_preview_done(st->stale_previews[i])) {
            job_preview_free(st->stale_previews[i]);
            st->stale_previews[i--] = st->stale_previews[--st->nstale];
        }
    if (w->preview && job_preview_done(w->preview) && !w->preview_shown) {
        w->preview_shown = true;
        st->dirty = true;           /* the plans arrived: show them */
        if (w->start_when_planned && st->mode == MODE_WIZARD && w->step == WIZ_CONFIRM)
            wizard_submit(st);
    }
    if (st->mode != MODE_WIZARD || w->step != WIZ_STARTING)
        return;
    struct qjob *j = jq_find(&st->q, w->starting_id);
    if (j && j->state == QJOB_RUNNING && atomic_load(&j->job->progress.phase) == PHASE_PREPARING)
        return;         /* still preparing: the keys keep working meanwhile */
    if (j && j->state == QJOB_FAILED && !strncmp(j->verdict, "REFUSED: ", 9)) {
        /* Shown where Y was pressed, as a refusal before the job was queued would be. */
        snprintf(w->error, sizeof(w->error), "refused, nothing was written: %s", j->verdict + 9);
        jq_withdraw(&st->q, j->id);
        w->step = WIZ_CONFIRM;
        st->dirty = true;
        return;
    }
    if (j && j->state == QJOB_QUEUED)
        station_say(st, false, NULL, "job #%d queued: it waits for a job on the same drive", j->id);
    else if (j)
        station_say(st, false, NULL, "job #%d %s", j->id, j->state == QJOB_RUNNING ? "started"
                 : qjob_state_name(j->state));
    st->mode = MODE_MAIN;
    st->focus_jobs = true;
    st->sel_job = j ? (int)st->q.count - 1 : st->sel_job;
    st->dirty = true;
}

/* A map beside the reports, named after the source and the time: the same
 * drive on another day gets a new one, never another drive's. */
static const char *map_name(const struct station *st, struct wizard *w)
{
    char stamp[32], who[160];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    const char *base = strrchr(w->source, '/');
    if (!store_safe_name(w->source_is_drive && w->source_id.serial[0] ? w->source_id.serial
                         : base ? base + 1 : w->source, who, sizeof(who)))
        snprintf(who, sizeof(who), "source");
    mkdir(st->q.reports_dir, 0755);        /* the first report has not made it yet */
    snprintf(w->map_path, sizeof(w->map_path), "%s/%s-%s.map", st->q.reports_dir, who, stamp);
    return w->map_path;
}

/* The request the wizard stands for; false (w->error says why) when a marked
 * drive is gone. targets and paths are the caller's storage. */
static bool build_request(struct station *st, struct job_request *req, const char **targets,
                          char (*paths)[64])
{
    struct wizard *w = &st->wiz;
    size_t n = 0;
    if (w->kind == JOB_IMAGE) {
        targets[n++] = w->path;
    } else {
        /* The drives as marked; the queue re-checks each identity before it writes. */
        for (size_t i = 0; i < w->npicked; i++) {
            const struct dev_drive *d = dev_ident_find(&st->devs, &w->picked[i]);
            if (!d) {
                snprintf(w->error, sizeof(w->error), "marked drive %s is gone: mark the targets again",
                         w->picked[i].name);
                w->step = WIZ_TARGETS;
                return false;
            }
            snprintf(paths[n], sizeof(paths[n]), "%s", d->path);
            targets[n] = paths[n];
            n++;
        }
    }
    *req = (struct job_request){
        .kind = w->kind, .source = w->source, .targets = targets, .ntargets = n, .hash_mask = w->hash_mask,
        .verify = w->verify, .retries = w->retries, .level = w->level, .split = w->split,
        .mode = w->mode, .resize = w->resize,
        .source_ident = w->source_is_drive ? &w->source_id : NULL,
        .target_idents = w->kind == JOB_IMAGE ? NULL : w->picked,
    };
    return true;
}

/* The wizard lets go of its preview: joined now when it is done, else later. */
void wizard_retire_preview(struct station *st)
{
    struct wizard *w = &st->wiz;
    w->start_when_planned = false;     /* a Y given for that preview's plans, not for the next */
    if (!w->preview)
        return;
    if (job_preview_done(w->preview)) {
        job_preview_free(w->preview);
    } else {
        if (st->nstale == (int)(sizeof(st->stale_previews) / sizeof(st->stale_previews[0])))
            job_preview_free(st->stale_previews[--st->nstale]);     /* rare: wait for the oldest */
        st->stale_previews[st->nstale++] = w->preview;
    }
    w->preview = NULL;
}

void wizard_end(struct station *st)
{
    wizard_retire_preview(st);
    while (st->nstale)
        job_preview_free(st->stale_previews[--st->nstale]);
}

/* The confirmation: each target's plan is worked out meanwhile (never for a
 * new image file, which has no plan). */
void wizard_enter_confirm(struct station *st)
{
    struct wizard *w = &st->wiz;
    const char *targets[JOB_MAX_TARGETS];
    char paths[JOB_MAX_TARGETS][64];
    struct job_request req;
    wizard_retire_preview(st);
    if (!build_request(st, &req, targets, paths))
        return;
    w->step = WIZ_CONFIRM;
    w->preview_shown = false;
    w->risky_confirmed = false;
    if (w->kind != JOB_IMAGE && job_preview_start(&req, st->q.event_fd, &w->preview) != 0)
        w->preview = NULL;      /* no plans shown; Y still checks everything */
}

void wizard_submit(struct station *st)
{
    struct wizard *w = &st->wiz;
    if (w->preview && !job_preview_done(w->preview)) {
        /* The preview holds the targets open: the job starts when it is done,
         * unless it finds a reason to refuse, which is then shown here. */
        w->start_when_planned = true;
        snprintf(w->error, sizeof(w->error), "Y: the job starts as soon as each target's plan is worked out "
                 "(Esc cancels)");
        return;
    }
    w->start_when_planned = false;
    if (w->preview && job_preview_refusal(w->preview)) {
        refused(st, job_preview_refusal(w->preview));
        return;
    }
    wizard_retire_preview(st);
    const char *targets[JOB_MAX_TARGETS];
    char paths[JOB_MAX_TARGETS][64];
    struct job_request req;
    if (!build_request(st, &req, targets, paths))
        return;
    req.map_path = w->keep_map ? map_name(st, w) : NULL;
    struct cb_error err = { 0 };
    int id = jq_submit(&st->q, &req, &err);
    if (id < 0) {
        refused(st, err.msg);
        station_rescan(st);         /* a drive that changed loses its mark, with the reason */
        return;
    }
    w->starting_id = id;
    w->step = WIZ_STARTING;
    st->dirty = true;
}
