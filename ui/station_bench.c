/* station_bench: the bench view, one tile per drive, like a duplicator's slot
 * lights: what each drive is doing, in one word (idle, busy, VERIFIED,
 * FAILED, warning) and a colour named by meaning, readable from across the
 * room at 80x24 over a serial console too. Without colours (a monochrome
 * terminal, or $NO_COLOR) each state keeps an attribute of its own; the word
 * is always there. */
#include "common/units.h"
#include "ui/screen.h"
#include "ui/station.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pairs 1-5 are station_draw.c's (good, bad, warn, info, key bar); the
 * states' pairs follow them. */
#define UI_PAIR_BASE 6

static const struct {
    short fg, bg;
    attr_t mono;
} scheme[UI_COLOR_COUNT] = {
    [UI_COLOR_IDLE] = { -1, -1, A_NORMAL },
    [UI_COLOR_BUSY] = { COLOR_BLACK, COLOR_CYAN, A_BOLD },
    [UI_COLOR_VERIFIED] = { COLOR_BLACK, COLOR_GREEN, A_REVERSE },
    [UI_COLOR_FAILED] = { COLOR_WHITE, COLOR_RED, A_REVERSE | A_BOLD },
    [UI_COLOR_WARNING] = { COLOR_BLACK, COLOR_YELLOW, A_BOLD | A_UNDERLINE },
};

void ui_colors_init(struct station *st)
{
    const char *no = getenv("NO_COLOR");
    st->color = has_colors() && !(no && no[0]);
    if (!st->color)
        return;
    start_color();
    use_default_colors();
    init_pair(1, COLOR_GREEN, -1);
    init_pair(2, COLOR_RED, -1);
    init_pair(3, COLOR_YELLOW, -1);
    init_pair(4, COLOR_CYAN, -1);
    init_pair(5, COLOR_BLACK, COLOR_CYAN);
    for (int c = 0; c < UI_COLOR_COUNT; c++)
        init_pair((short)(UI_PAIR_BASE + c), scheme[c].fg, scheme[c].bg);
}

void ui_color_on(const struct station *st, enum ui_color c)
{
    if (st->color)
        attron(COLOR_PAIR(UI_PAIR_BASE + (int)c) | (c == UI_COLOR_IDLE ? A_NORMAL : A_BOLD));
    else
        attron(scheme[c].mono);
}

void ui_color_off(const struct station *st, enum ui_color c)
{
    if (st->color)
        attroff(COLOR_PAIR(UI_PAIR_BASE + (int)c) | (c == UI_COLOR_IDLE ? A_NORMAL : A_BOLD));
    else
        attroff(scheme[c].mono);
}

static void hms(time_t t, char *buf, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
}

static void set(struct drive_status *s, enum ui_color c, const char *word)
{
    s->color = c;
    s->word = word;
}

static int percent(uint64_t done, uint64_t total)
{
    return total ? (int)(done * 100 / total) : 0;
}

static void as_target(const struct qjob *j, size_t t, struct drive_status *s)
{
    struct target_view v;
    watch_target_view(j, t, &v);
    char at[16];
    if (j->state == QJOB_QUEUED) {
        set(s, UI_COLOR_BUSY, "busy");
        snprintf(s->detail, sizeof(s->detail), "job #%d: waiting to start", j->id);
    } else if (j->state == QJOB_RUNNING && v.stalled_since) {
        set(s, UI_COLOR_WARNING, "warning");
        hms(v.stalled_since, at, sizeof(at));
        snprintf(s->detail, sizeof(s->detail), "not answering since %s", at);
        s->stalled_since = v.stalled_since;
    } else if (j->state == QJOB_RUNNING && v.state != TGT_FAILED) {
        set(s, v.slow ? UI_COLOR_WARNING : UI_COLOR_BUSY, v.slow ? "warning" : "busy");
        snprintf(s->detail, sizeof(s->detail), "job #%d: %s%s %d%%", j->id, v.slow ? "slow, " : "", v.word,
                 percent(v.done, v.total));
    } else if (v.state == TGT_VERIFIED) {
        set(s, UI_COLOR_VERIFIED, "VERIFIED");
        snprintf(s->detail, sizeof(s->detail), "job #%d", j->id);
    } else if (v.state == TGT_FAILED) {
        set(s, UI_COLOR_FAILED, "FAILED");
        snprintf(s->detail, sizeof(s->detail), "job #%d: %s", j->id, v.why);
    } else {
        set(s, UI_COLOR_IDLE, "idle");
        snprintf(s->detail, sizeof(s->detail), "job #%d: %s", j->id, v.word);
    }
}

static void as_source(const struct qjob *j, struct drive_status *s)
{
    char at[16];
    if (j->state == QJOB_QUEUED) {
        set(s, UI_COLOR_BUSY, "busy");
        snprintf(s->detail, sizeof(s->detail), "job #%d: waiting to read", j->id);
    } else if (j->state == QJOB_RUNNING && j->watch.source_stalled_since) {
        set(s, UI_COLOR_WARNING, "warning");
        hms(j->watch.source_stalled_since, at, sizeof(at));
        snprintf(s->detail, sizeof(s->detail), "not answering since %s", at);
        s->stalled_since = j->watch.source_stalled_since;
    } else if (j->state == QJOB_RUNNING) {
        const struct copy_progress *p = &j->job->progress;
        uint64_t bad = atomic_load(&p->bytes_bad);
        set(s, bad ? UI_COLOR_WARNING : UI_COLOR_BUSY, bad ? "warning" : "busy");
        snprintf(s->detail, sizeof(s->detail), "job #%d: %s %d%%%s", j->id,
                 progress_phase_name((enum copy_phase)atomic_load(&p->phase)),
                 percent(atomic_load(&p->bytes_done), atomic_load(&p->bytes_total)), bad ? ", bad sectors" : "");
    } else if (j->state == QJOB_DONE_BAD) {
        set(s, UI_COLOR_WARNING, "warning");
        snprintf(s->detail, sizeof(s->detail), "job #%d: read, with bad sectors", j->id);
    } else {
        set(s, UI_COLOR_IDLE, "idle");
        snprintf(s->detail, sizeof(s->detail), "read by job #%d", j->id);
    }
}

void station_drive_status(const struct station *st, const struct dev_drive *d, struct drive_status *s)
{
    char key[JQ_KEY];
    memset(s, 0, sizeof(*s));
    snprintf(key, sizeof(key), "b:%u:%u", d->major, d->minor);
    /* The newest job that touches the drive says what it is doing. */
    for (int i = (int)st->q.count - 1; i >= 0; i--) {
        const struct qjob *j = st->q.jobs[i];
        for (size_t t = 0; t < j->ntargets; t++)
            if (!strcmp(j->tgt_keys[t], key)) {
                as_target(j, t, s);
                return;
            }
        if (!strcmp(j->src_key, key)) {
            as_source(j, s);
            return;
        }
    }
    set(s, UI_COLOR_IDLE, "idle");
    snprintf(s->detail, sizeof(s->detail), "%s%s%s%s", d->system ? "SYSTEM " : "", d->mounted ? "MOUNTED " : "",
             d->busy ? "BUSY " : "", d->readonly ? "RO" : "");
}

/* Short name of a drive for a tile: its model, or the file a loop device is over. */
static const char *name_of(const struct dev_drive *d)
{
    if (d->model[0])
        return d->model;
    const char *slash = strrchr(d->backing_file, '/');
    return slash ? slash + 1 : d->backing_file[0] ? d->backing_file : "-";
}

static void tile(const struct station *st, const struct dev_drive *d, int y, int x, int w, bool boxed)
{
    struct drive_status s;
    station_drive_status(st, d, &s);
    char line[256], sz[32];
    int in = boxed ? 1 : 0, iw = w - 2 * in - 1;        /* one column between tiles */
    if (iw < 8)
        return;
    if (boxed) {
        snprintf(line, sizeof(line), "+- %s ", d->path);
        mvaddnstr(y, x, line, w - 1);
        for (int c = (int)strlen(line); c < w - 2; c++)
            mvaddch(y, x + c, '-');
        mvaddch(y, x + w - 2, '+');
        y++;
    }
    /* The state word on a full-width band: the light of the slot. */
    snprintf(line, sizeof(line), boxed ? " %-*s" : " %-*s", iw - 1, s.word);
    if (!boxed)
        snprintf(line, sizeof(line), " %-8s %-*s", s.word, iw - 10 > 0 ? iw - 10 : 0, d->path);
    if (boxed)
        mvaddch(y, x, '|');
    ui_color_on(st, s.color);
    mvaddnstr(y, x + in, line, iw);
    ui_color_off(st, s.color);
    if (boxed)
        mvaddch(y, x + w - 2, '|');
    y++;
    units_format_bytes(d->size, sz, sizeof(sz));
    snprintf(line, sizeof(line), " %s %s %s", sz, name_of(d), d->serial[0] ? d->serial : "");
    if (boxed)
        mvaddch(y, x, '|');
    mvaddnstr(y, x + in, line, iw);
    if (boxed)
        mvaddch(y, x + w - 2, '|');
    y++;
    snprintf(line, sizeof(line), " %s", s.detail);
    if (boxed)
        mvaddch(y, x, '|');
    mvaddnstr(y, x + in, line, iw);
    if (boxed) {
        mvaddch(y, x + w - 2, '|');
        y++;
        mvaddch(y, x, '+');
        for (int c = 1; c < w - 2; c++)
            mvaddch(y, x + c, '-');
        mvaddch(y, x + w - 2, '+');
    }
}

static void draw_bench(struct station *st)
{
    int n = (int)st->devs.count;
    int per_row = COLS / 26 > 0 ? COLS / 26 : 1, w = COLS / per_row;
    int avail = LINES - 3, rows = (n + per_row - 1) / per_row;
    bool boxed = rows * 5 <= avail;
    int th = boxed ? 5 : 3, fit = (avail / th) * per_row;
    attron(A_BOLD);
    mvprintw(1, 0, "Bench: %d drive%s   bell %s", n, n == 1 ? "" : "s", st->bell ? "on" : "off");
    attroff(A_BOLD);
    if (n > fit)
        printw("   (%d more: enlarge the window, or Esc for the list)", n - fit);
    if (n == 0)
        mvaddstr(3, 2, "no drives found: plug one in");
    for (int i = 0; i < n && i < fit; i++)
        tile(st, &st->devs.drives[i], 2 + (i / per_row) * th, (i % per_row) * w, w, boxed);
}

static void back(struct station *st)
{
    st->mode = MODE_MAIN;
}

static void bell(struct station *st)
{
    st->bell = !st->bell;
    station_say(st, false, NULL, "the bell is %s (m toggles it)", st->bell ? "on" : "off");
}

static const struct key_binding bench_keys[] = {
    { 'b', 27, "Back to the list", "back to the list", back },
    { 'm', 0, "Bell on/off", "the bell on/off", bell },
    { KEY_F(2), 'n', "New job", "new job", wizard_start },
    { 'q', 0, NULL, NULL, back },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

const struct screen bench_screen = {
    .name = "bench",
    .draw = draw_bench,
    .keys = bench_keys,
    .what_works = "b or Esc returns to the list, m toggles the bell, F2 starts a job",
};
