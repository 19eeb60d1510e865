/* station_wizard: the new-job steps: source, targets (or an image path),
 * options, confirmation. Nothing is queued before Y on the confirmation. */
#include "clone/image_read.h"
#include "common/units.h"
#include "jobs/image_job.h"
#include "jobs/job_log.h"
#include "ui/station.h"

#include <sys/stat.h>

#include <curses.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define KEY_ESC 27

static void retire_preview(struct station *st);
static void submit(struct station *st);

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
    retire_preview(st);
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
    if (d->system)
        return "holds the running system";
    if (d->mounted)
        return "mounted or in use";
    if (d->readonly)
        return "read-only";
    if (d->busy)
        return d->busy_why[0] ? d->busy_why : "busy in another job";
    if (d->size == 0)
        return "no medium";
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

static void toggle_pick(struct wizard *w, const struct dev_drive *d)
{
    for (size_t i = 0; i < w->npicked; i++)
        if (dev_ident_matches(&w->picked[i], d, NULL, 0)) {
            memmove(&w->picked[i], &w->picked[i + 1], (w->npicked - i - 1) * sizeof(w->picked[0]));
            w->npicked--;
            return;
        }
    if (w->npicked == JOB_MAX_TARGETS) {
        snprintf(w->error, sizeof(w->error), "a job takes at most %d targets", JOB_MAX_TARGETS);
        return;
    }
    dev_ident_of(d, &w->picked[w->npicked++]);
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
        retire_preview(st);
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
        retire_preview(st);
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
            submit(st);
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

static bool is_move(int key)
{
    return key == KEY_UP || key == KEY_DOWN || key == 'k' || key == 'j' || key == KEY_HOME || key == KEY_END;
}

static int move_cursor(int cursor, int key, int count)
{
    if ((key == KEY_UP || key == 'k') && cursor > 0)
        return cursor - 1;
    if ((key == KEY_DOWN || key == 'j') && cursor + 1 < count)
        return cursor + 1;
    return cursor;
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
static bool build_request(struct station *st, struct clone_request *req, const char **targets,
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
    *req = (struct clone_request){
        .kind = w->kind, .source = w->source, .targets = targets, .ntargets = n, .hash_mask = w->hash_mask,
        .verify = w->verify, .retries = w->retries, .level = w->level, .split = w->split,
        .mode = w->mode, .resize = w->resize,
        .source_ident = w->source_is_drive ? &w->source_id : NULL,
        .target_idents = w->kind == JOB_IMAGE ? NULL : w->picked,
    };
    return true;
}

/* The wizard lets go of its preview: joined now when it is done, else later. */
static void retire_preview(struct station *st)
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
    retire_preview(st);
    while (st->nstale)
        job_preview_free(st->stale_previews[--st->nstale]);
}

/* The confirmation: each target's plan is worked out meanwhile (never for a
 * new image file, which has no plan). */
/* A failing source (its SMART, read in the background) is copied with the
 * rescue settings: a map file (the copy resumes after a crash or a pulled
 * cable) and more passes over unreadable sectors. Offered, not forced: the
 * options screen shows and changes them. */
static void advise_source(struct station *st, const struct dev_drive *d)
{
    struct wizard *w = &st->wiz;
    struct dev_health h;
    if (!st->health || !dev_health_cache_get(st->health, d, &h) || h.state != DEV_HEALTH_FAILING)
        return;
    w->keep_map = true;
    if (w->retries < 3)
        w->retries = 3;
    station_say(st, true, NULL, "source %s is failing (%s): rescue settings chosen: a map file beside the reports "
                "and %d passes over unreadable sectors (the options screen changes them)", d->path, h.why,
                w->retries);
}

/* The marked targets whose own SMART says sectors went bad, in words; false when none. */
static bool risky_targets(struct station *st, char *buf, size_t len)
{
    const struct wizard *w = &st->wiz;
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; st->health && w->kind != JOB_IMAGE && i < w->npicked && n < len; i++) {
        struct dev_health h;
        const struct dev_drive *d = dev_ident_find(&st->devs, &w->picked[i]);
        if (!d || !dev_health_cache_get(st->health, d, &h))
            continue;
        if (h.state == DEV_HEALTH_FAILING || h.pending > 0 || h.reallocated > 0 || h.uncorrectable > 0 ||
            h.media_errors > 0)
            n += (size_t)snprintf(buf + n, len - n, "%starget %s is %s (%s)", n ? "; " : "", d->path,
                                  dev_health_word(h.state), h.why);
    }
    return n > 0;
}

static void enter_confirm(struct station *st)
{
    struct wizard *w = &st->wiz;
    const char *targets[JOB_MAX_TARGETS];
    char paths[JOB_MAX_TARGETS][64];
    struct clone_request req;
    retire_preview(st);
    if (!build_request(st, &req, targets, paths))
        return;
    w->step = WIZ_CONFIRM;
    w->preview_shown = false;
    w->risky_confirmed = false;
    if (w->kind != JOB_IMAGE && job_preview_start(&req, st->q.event_fd, &w->preview) != 0)
        w->preview = NULL;      /* no plans shown; Y still checks everything */
}

static void submit(struct station *st)
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
    retire_preview(st);
    const char *targets[JOB_MAX_TARGETS];
    char paths[JOB_MAX_TARGETS][64];
    struct clone_request req;
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

static void path_done(struct station *st)
{
    struct wizard *w = &st->wiz;
    if (!w->path[0]) {
        snprintf(w->error, sizeof(w->error), "type a file name first");
        return;
    }
    if (!w->path_for_restore) {
        w->step = WIZ_OPTIONS;
        return;
    }
    struct stat sb;
    if (image_job_raw_name(w->path)) {         /* .img or .iso: the disk is the file */
        if (stat(w->path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            snprintf(w->error, sizeof(w->error), "%s is not a file clonebay can read", w->path);
            return;
        }
        w->source_size = (uint64_t)sb.st_size;
        w->source_table = false;
    } else {
        struct image img;
        struct cb_error err = { 0 };
        if (image_open(&img, w->path, &err) != 0) {
            snprintf(w->error, sizeof(w->error), "%s", err.msg);
            return;
        }
        w->source_size = img.meta.size;
        /* An image of a partitioned drive: the planner may fit it onto a smaller one. */
        w->source_table = !strncmp(img.meta.contents, "gpt", 3) || !strncmp(img.meta.contents, "dos", 3);
        image_close(&img);
    }
    snprintf(w->source, sizeof(w->source), "%s", w->path);
    w->source_is_drive = false;
    w->kind = JOB_RESTORE;
    w->step = WIZ_TARGETS;
    w->cursor = 0;
}

static void cycle_mode(struct wizard *w)
{
    w->mode = w->mode == MODE_AUTO ? MODE_USED : w->mode == MODE_USED ? MODE_RAW : MODE_AUTO;
}

static void cycle_retries(struct wizard *w)
{
    static const int n[] = { 1, 2, 3, 5, 0 };
    size_t i = 0;
    while (i < 5 && n[i] != w->retries)
        i++;
    w->retries = n[(i + 1) % 5];
}

static void cycle_hash(struct wizard *w)
{
    static const unsigned sets[] = {
        1u << HASH_SHA256, 1u << HASH_SHA256 | 1u << HASH_MD5, 1u << HASH_SHA512, 1u << HASH_MD5, 0,
    };
    size_t n = sizeof(sets) / sizeof(sets[0]), i = 0;
    while (i < n && sets[i] != w->hash_mask)
        i++;
    w->hash_mask = sets[(i + 1) % n];
}

static void cycle_split(struct wizard *w)
{
    static const uint64_t sizes[] = { 0, 4ull << 30, 2ull << 30, 1ull << 30, 650ull << 20 };
    size_t n = sizeof(sizes) / sizeof(sizes[0]), i = 0;
    while (i < n && sizes[i] != w->split)
        i++;
    w->split = sizes[(i + 1) % n];
}

void wizard_key(struct station *st, int key)
{
    struct wizard *w = &st->wiz;
    int ndrives = (int)st->devs.count;
    w->error[0] = '\0';
    switch (w->step) {
    case WIZ_SOURCE:
        if (key == KEY_ESC || key == 'q') {
            st->mode = MODE_MAIN;
        } else if (key == 'o') {
            browse_start(st);       /* look into an image before restoring it */
        } else if (key == 'i') {
            w->path_for_restore = true;
            snprintf(w->path, sizeof(w->path), "%s%s", st->store_dir, st->store_dir[0] ? "/" : "");
            w->step = WIZ_PATH;
        } else if ((key == '\n' || key == '\r' || key == KEY_ENTER) && w->cursor < ndrives) {
            const struct dev_drive *d = &st->devs.drives[w->cursor];
            if (d->size == 0) {
                snprintf(w->error, sizeof(w->error), "%s has no medium", d->path);
                break;
            }
            snprintf(w->source, sizeof(w->source), "%s", d->path);
            dev_ident_of(d, &w->source_id);
            w->source_is_drive = true;
            w->source_size = d->size;
            w->source_table = d->pttype[0] != '\0' && !d->is_optical;
            w->kind = JOB_CLONE;
            w->step = WIZ_TARGETS;
            w->cursor = 0;
            w->npicked = 0;
            advise_source(st, d);
        } else if (is_move(key)) {
            w->cursor = move_cursor(w->cursor, key, ndrives);
        } else {
            station_key_unused(st, key, "Up/Down choose the source, Enter takes it, i restores an image, o browses one, Esc cancels");
        }
        break;
    case WIZ_TARGETS: {
        int rows = ndrives + (w->kind == JOB_RESTORE ? 0 : 1);
        if (key == KEY_ESC || key == 'q') {
            w->step = w->kind == JOB_RESTORE ? WIZ_PATH : WIZ_SOURCE;
            w->cursor = 0;
        } else if (key == ' ' && w->cursor < ndrives) {
            const char *why = wizard_unpickable(st, &st->devs.drives[w->cursor]);
            if (why)
                snprintf(w->error, sizeof(w->error), "%s cannot be a target: %s",
                         st->devs.drives[w->cursor].path, why);
            else
                toggle_pick(w, &st->devs.drives[w->cursor]);
        } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
            if (w->cursor == ndrives && w->kind != JOB_RESTORE) {
                w->kind = JOB_IMAGE;
                w->path_for_restore = false;
                /* Start in the chosen store: typing a name is all that is left. */
                snprintf(w->path, sizeof(w->path), "%s%s", st->store_dir, st->store_dir[0] ? "/" : "");
                w->step = WIZ_PATH;
                break;
            }
            if (w->npicked)
                w->step = WIZ_OPTIONS;
            else
                snprintf(w->error, sizeof(w->error), "mark at least one target with Space");
        } else if (is_move(key)) {
            w->cursor = move_cursor(w->cursor, key, rows);
        } else {
            station_key_unused(st, key, "Space marks a target, Enter goes on, Esc goes back");
        }
        break;
    }
    case WIZ_PATH: {
        size_t n = strlen(w->path);
        if (key == KEY_ESC) {
            w->step = w->path_for_restore ? WIZ_SOURCE : WIZ_TARGETS;
            if (!w->path_for_restore)
                w->kind = JOB_CLONE;
        } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
            path_done(st);
        } else if ((key == KEY_BACKSPACE || key == 127 || key == 8) && n > 0) {
            w->path[n - 1] = '\0';
        } else if (key >= 32 && key < 127 && n + 1 < sizeof(w->path)) {
            w->path[n] = (char)key;
            w->path[n + 1] = '\0';
        }
        break;
    }
    case WIZ_OPTIONS:
        if (key == KEY_ESC || key == 'q')
            w->step = w->kind == JOB_IMAGE ? WIZ_PATH : WIZ_TARGETS;
        else if (key == 'h')
            cycle_hash(w);
        else if (key == 'v')
            w->verify = !w->verify;
        else if (key == '+' && w->level < 19)
            w->level++;
        else if (key == '-' && w->level > 1)
            w->level--;
        else if (key == 's' && w->kind == JOB_IMAGE)
            cycle_split(w);
        else if (key == 'm' && w->kind != JOB_RESTORE)
            cycle_mode(w);
        else if (key == 'r' && w->kind != JOB_IMAGE)
            w->resize = w->resize == RESIZE_KEEP ? RESIZE_AUTO : RESIZE_KEEP;
        else if (key == 't')
            cycle_retries(w);
        else if (key == 'p')
            w->keep_map = !w->keep_map;
        else if (key == '\n' || key == '\r' || key == KEY_ENTER)
            enter_confirm(st);
        else if (key == 's')
            station_say(st, false, NULL, "s splits images only: a copy to drives is never split");
        else
            station_key_unused(st, key, w->kind == JOB_IMAGE ? "h v m t p, +/- level, s split, Enter, Esc"
                                                             : "h hash, v verify, m mode, r resize, t retries, p map, "
                                                               "Enter goes on, Esc goes back");
        break;
    case WIZ_CONFIRM: {
        char why[sizeof(w->error) - 64];
        if ((key == 'y' || key == 'Y') && !w->risky_confirmed && risky_targets(st, why, sizeof(why))) {
            w->risky_confirmed = true;      /* a second Y, on purpose, writes it */
            snprintf(w->error, sizeof(w->error), "%s: Y again writes it all the same, Esc goes back", why);
        } else if (key == 'y' || key == 'Y')
            submit(st);
        else if (key == KEY_ESC || key == 'n' || key == 'q') {
            retire_preview(st);
            w->start_when_planned = false;
            w->step = WIZ_OPTIONS;
        }
        else
            station_key_unused(st, key, "Y starts the job, Esc goes back");
        break;
    }
    case WIZ_STARTING:
        if (key == KEY_ESC || key == 'q') {
            station_say(st, false, NULL, "job #%d goes on preparing", w->starting_id);
            st->mode = MODE_MAIN;
            st->focus_jobs = true;
            st->sel_job = (int)st->q.count - 1;
        } else {
            /* Any other key belongs to the main screen (F10 to quit, a job, a drive):
             * the job goes on preparing, and a refusal shows on its line. */
            st->mode = MODE_MAIN;
            st->focus_jobs = true;
            st->sel_job = (int)st->q.count - 1;
            station_key(st, key);
        }
        break;
    }
}
