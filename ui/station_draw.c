/* station_draw: painting the station. ASCII only (bars, block map and
 * sparkline), so it reads the same on a Linux console, a serial line or a
 * terminal without UTF-8; colours when the terminal has them. */
#include "clone/progress.h"
#include "common/units.h"
#include "ui/screen.h"
#include "ui/station.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define WRAP_ROWS 40        /* the most rows a wrapped message takes */

void draw_color_on(const struct station *st, int pair)
{
    if (st->color)
        attron(COLOR_PAIR(pair));
    else if (pair == C_BAD || pair == C_WARN)
        attron(A_BOLD);
}

void draw_color_off(const struct station *st, int pair)
{
    if (st->color)
        attroff(COLOR_PAIR(pair));
    else if (pair == C_BAD || pair == C_WARN)
        attroff(A_BOLD);
}

static void fkey_bar(const struct station *st, const char *const *items)
{
    int y = LINES - 1, x = 0;
    move(y, 0);
    clrtoeol();
    for (size_t i = 0; items[i] && x < COLS; i += 2) {
        attron(A_BOLD);
        mvaddnstr(y, x, items[i], COLS - x);
        attroff(A_BOLD);
        x += (int)strlen(items[i]);
        if (st->color)
            attron(COLOR_PAIR(C_BAR));
        else
            attron(A_REVERSE);
        mvaddnstr(y, x, items[i + 1], COLS - x > 0 ? COLS - x : 0);
        if (st->color)
            attroff(COLOR_PAIR(C_BAR));
        else
            attroff(A_REVERSE);
        x += (int)strlen(items[i + 1]) + 1;
    }
}

/* Model, or for a loop device the name of its file. */
const char *drive_model_of(const struct dev_drive *d)
{
    if (d->model[0])
        return d->model;
    if (d->kind == DEV_KIND_LOOP && d->backing_file[0]) {
        const char *slash = strrchr(d->backing_file, '/');
        return slash ? slash + 1 : d->backing_file;
    }
    return "-";
}

static void hms(time_t t, char *buf, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
}

static void flags_of(const struct dev_drive *d, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s", d->system ? " SYSTEM" : "", d->mounted ? " MOUNTED" : "",
             d->busy ? " BUSY" : "", d->readonly ? " RO" : "", d->size == 0 ? " NO-MEDIA" : "");
}

/* "[#####.....]" of width w for fraction f. */
static void bar(char *buf, int w, double f)
{
    int fill = (int)(f * (w - 2) + 0.5);
    buf[0] = '[';
    for (int i = 1; i < w - 1; i++)
        buf[i] = i - 1 < fill ? '#' : '.';
    buf[w - 1] = ']';
    buf[w] = '\0';
}

/* The health word after the serial (unknown until read, and for loops),
 * where not 512/512 the sector sizes (logical/physical), and hidden areas. */
static void health_and_sectors(const struct station *st, const struct dev_drive *d, struct dev_health *h)
{
    dev_health_unknown(h, "");
    if (st->health)
        dev_health_cache_get(st->health, d, h);
    int pair = h->state == DEV_HEALTH_FAILING ? C_BAD : h->state == DEV_HEALTH_WORN ? C_WARN
             : h->state == DEV_HEALTH_OK ? C_GOOD : 0;
    char w[48];
    snprintf(w, sizeof(w), " %-7s", dev_health_word(h->state));
    if (pair)
        draw_color_on(st, pair);
    addnstr(w, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
    if (pair)
        draw_color_off(st, pair);
    if (d->size && (d->logical_sector != 512 || d->physical_sector != 512)) {
        snprintf(w, sizeof(w), " %u/%uB", d->logical_sector, d->physical_sector);
        addnstr(w, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
    }
    char hidden[96];
    dev_health_hidden_text(h, hidden, sizeof(hidden));
    if (hidden[0]) {
        snprintf(w, sizeof(w), " %s", hidden);
        draw_color_on(st, C_WARN);
        addnstr(w, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
        draw_color_off(st, C_WARN);
    }
}

static int draw_drives(struct station *st, int y, int rows)
{
    attron(A_BOLD);
    mvprintw(y++, 0, "Drives (%zu)%s", st->devs.count, st->opts.bench_dir ? "  - practice bench" : "");
    attroff(A_BOLD);
    if (st->devs.count == 0)
        mvaddstr(y++, 2, "no drives found: plug one in");
    int first = st->sel_drive >= rows / 2 ? st->sel_drive - rows / 2 + 1 : 0;
    for (size_t i = 0; i < sizeof(st->drive_row) / sizeof(st->drive_row[0]); i++)
        st->drive_row[i] = -1;
    for (int i = first; i < (int)st->devs.count && y < rows; i++) {
        const struct dev_drive *d = &st->devs.drives[i];
        if (i < (int)(sizeof(st->drive_row) / sizeof(st->drive_row[0])))
            st->drive_row[i] = (short)y;
        char sz[32], fl[64], line[512], what[512];
        units_format_bytes(d->size, sz, sizeof(sz));
        flags_of(d, fl, sizeof(fl));
        int mw = COLS >= 84 ? 22 : 20;     /* at 80 columns the health word still fits */
        snprintf(line, sizeof(line), " %-12s %-7s %10s  %-*.*s %-16.16s", d->path, dev_kind_name(d->kind), sz,
                 mw, mw, drive_model_of(d), d->serial[0] ? d->serial : "-");
        bool sel = !st->focus_jobs && i == st->sel_drive && st->mode == MODE_MAIN;
        if (sel)
            attron(A_REVERSE);
        mvaddnstr(y, 0, line, COLS);
        if (sel)
            attroff(A_REVERSE);
        /* The safety flags first: on a narrow screen (a serial console) what is cut
         * must be the health word or the sector sizes, never SYSTEM or MOUNTED. */
        if (fl[0]) {
            draw_color_on(st, d->system || d->mounted ? C_BAD : C_WARN);
            addnstr(fl, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
            draw_color_off(st, d->system || d->mounted ? C_BAD : C_WARN);
        }
        struct dev_health health;
        health_and_sectors(st, d, &health);
        struct drive_status ds;
        station_drive_status(st, d, &ds);
        if (ds.color == UI_COLOR_WARNING && ds.detail[0]) {
            char w[200];
            snprintf(w, sizeof(w), " %s", ds.detail);
            draw_color_on(st, ds.stalled_since ? C_BAD : C_WARN);
            addnstr(w, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
            draw_color_off(st, ds.stalled_since ? C_BAD : C_WARN);
        }
        const struct archive_drive *ar = archive_find(&st->archive, d->path);
        if (ar) {
            draw_color_on(st, C_INFO);
            addnstr(" ARCHIVING", COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
            draw_color_off(st, C_INFO);
        }
        clrtoeol();
        y++;
        if (y < rows && ar) {
            mvprintw(y, 0, "%*sarchiving discs: %d archived, %d failed; %s", 14, "", ar->archived, ar->failed,
                     ar->job_id ? "backing up the disc in it" : "waiting for a disc");
            clrtoeol();
            y++;
        } else if (y < rows) {
            job_drive_contents(d, what, sizeof(what));
            mvprintw(y, 0, "%*s", 14, "");
            addnstr(what, COLS - 14 > 0 ? COLS - 14 : 0);
            if (health.state == DEV_HEALTH_WORN || health.state == DEV_HEALTH_FAILING) {
                char why[300];
                snprintf(why, sizeof(why), "  health: %s", health.why);
                draw_color_on(st, health.state == DEV_HEALTH_FAILING ? C_BAD : C_WARN);
                addnstr(why, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
                draw_color_off(st, health.state == DEV_HEALTH_FAILING ? C_BAD : C_WARN);
            }
            clrtoeol();
            y++;
        }
    }
    return y;
}

void draw_job_progress(const struct station *st, const struct qjob *j, int y)
{
    move(y, 0);
    clrtoeol();
    if (j->state == QJOB_QUEUED) {
        mvaddstr(y, 5, "waiting: another job uses one of these drives");
        return;
    }
    if (j->state != QJOB_RUNNING) {
        int pair = j->state == QJOB_DONE ? C_GOOD : j->state == QJOB_DONE_BAD ? C_WARN : C_BAD;
        draw_color_on(st, pair);
        mvaddnstr(y, 5, j->verdict, COLS - 5 > 0 ? COLS - 5 : 0);
        draw_color_off(st, pair);
        return;
    }
    const struct copy_progress *p = &j->job->progress;
    int x = 5;
    char held[160] = "";
    const struct job_watch *w = &j->watch;
    if (w->holding_back >= 0 && w->holding_back < (int)j->ntargets) {
        const struct watch_target *wt = &w->t[w->holding_back];
        char at[16] = "";
        hms(wt->stalled_since, at, sizeof(at));
        snprintf(held, sizeof(held), "held back by %s (%s%s) ", j->targets[w->holding_back],
                 wt->stalled_since ? "not answering since " : "slow", wt->stalled_since ? at : "");
    } else if (w->source_stalled_since) {
        char at[16];
        hms(w->source_stalled_since, at, sizeof(at));
        snprintf(held, sizeof(held), "source %s not answering since %s ", j->source, at);
    }
    if (held[0]) {
        draw_color_on(st, C_WARN);
        mvaddnstr(y, x, held, COLS - x > 0 ? COLS - x : 0);
        draw_color_off(st, C_WARN);
        x += (int)strlen(held);
    }
    uint64_t total = atomic_load(&p->bytes_total), done = atomic_load(&p->bytes_done);
    uint64_t rate = atomic_load(&p->rate_now), avg = atomic_load(&p->rate_avg);
    if (!rate)
        rate = w->done_rate;    /* the reader waits on a slow target: its own tick says 0 */
    uint64_t bad = atomic_load(&p->bytes_bad), areas = atomic_load(&p->bad_areas);
    int phase = atomic_load(&p->phase);
    double f = total ? (double)done / (double)total : 0;
    char b[64], eta[32] = "--:--:--";
    bar(b, 22, f > 1 ? 1 : f);
    if (rate && total > done) {
        uint64_t s = (total - done) / rate;
        snprintf(eta, sizeof(eta), "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
                 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
    }
    char line[256];
    snprintf(line, sizeof(line), "%s %5.1f%%  %-7s %4.0f MB/s (avg %.0f)  ETA %s  bad %llu sectors in %llu areas", b,
             100.0 * f, progress_phase_name((enum copy_phase)phase), (double)rate / 1e6, (double)avg / 1e6, eta,
             (unsigned long long)(bad / (j->job->src.sector ? j->job->src.sector : 512)), (unsigned long long)areas);
    if (x < COLS)
        mvaddnstr(y, x, line, COLS - x);
}

/* Each target's own line: its state, bytes, rate, and whether it holds the job back. */
static void target_line(const struct station *st, const struct qjob *j, size_t i, int y)
{
    struct target_view v;
    watch_target_view(j, i, &v);
    char done[32], total[32], line[512];
    units_format_bytes(v.done, done, sizeof(done));
    units_format_bytes(v.total, total, sizeof(total));
    move(y, 0);
    clrtoeol();
    int n = snprintf(line, sizeof(line), "       -> %-12s ", j->targets[i]);
    mvaddnstr(y, 0, line, COLS);
    int pair = v.state == TGT_VERIFIED ? C_GOOD : v.state == TGT_FAILED ? C_BAD : 0;
    if (pair)
        draw_color_on(st, pair);
    addnstr(v.word, COLS - n > 0 ? COLS - n : 0);
    if (pair)
        draw_color_off(st, pair);
    if (v.state == TGT_FAILED) {
        printw(": ");
    } else if (v.state != TGT_WAITING && v.state != TGT_PREPARING) {
        snprintf(line, sizeof(line), "  %s of %s", done, total);
        if (j->state == QJOB_RUNNING)
            snprintf(line + strlen(line), sizeof(line) - strlen(line), "  %.1f MB/s", (double)v.rate / 1e6);
        addnstr(line, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
    }
    if (v.slow) {
        draw_color_on(st, C_WARN);
        addnstr("  slow", COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
        draw_color_off(st, C_WARN);
    }
    if (v.stalled_since) {
        char at[16];
        hms(v.stalled_since, at, sizeof(at));
        snprintf(line, sizeof(line), "  not answering since %s", at);
        draw_color_on(st, C_BAD);
        addnstr(line, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
        draw_color_off(st, C_BAD);
    }
    if (v.why[0])
        addnstr(v.why, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
}

static bool shows_targets(const struct qjob *j)
{
    /* outcome is the job thread's until the job is reaped (no longer running). */
    return watch_has_targets(j) && (j->state == QJOB_RUNNING || j->job->outcome != OUTCOME_REFUSED);
}

static int job_rows(const struct qjob *j)
{
    return 2 + (shows_targets(j) ? (int)j->ntargets : 0);
}

static void draw_jobs(struct station *st, int y, int rows)
{
    attron(A_BOLD);
    mvprintw(y++, 0, "Jobs (%zu running, %zu waiting)", jq_running(&st->q),
             jq_active(&st->q) - jq_running(&st->q));
    attroff(A_BOLD);
    clrtoeol();
    if (st->q.count == 0)
        mvaddstr(y++, 2, "no jobs: F2 starts one");
    for (int i = 0; i < JQ_MAX_JOBS; i++)
        st->job_row[i] = -1;
    /* Scrolled so that the chosen job is whole on the screen. */
    int first = 0;
    if (st->sel_job < (int)st->q.count) {
        int need = 0;
        for (int i = st->sel_job; i >= 0; i--) {
            need += job_rows(st->q.jobs[i]);
            if (need > rows - y)
                break;
            first = i;
        }
    }
    for (int i = first; i < (int)st->q.count && y + 1 < rows; i++) {
        const struct qjob *j = st->q.jobs[i];
        st->job_row[i] = (short)y;
        char line[1024];
        int n = snprintf(line, sizeof(line), " #%-3d %-7s %-9s %s -> %s", j->id, job_kind_name(j->kind),
                         qjob_state_name(j->state), j->source, j->targets[0]);
        for (size_t t = 1; t < j->ntargets && n > 0 && (size_t)n < sizeof(line); t++)
            n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s", j->targets[t]);
        bool sel = st->focus_jobs && i == st->sel_job && st->mode == MODE_MAIN;
        if (sel)
            attron(A_REVERSE);
        mvaddnstr(y, 0, line, COLS);
        clrtoeol();
        if (sel)
            attroff(A_REVERSE);
        draw_job_progress(st, j, y + 1);
        y += 2;
        for (size_t t = 0; shows_targets(j) && t < j->ntargets && y < rows; t++)
            target_line(st, j, t, y++);
    }
}

void station_main_draw(struct station *st)
{
    int split = (LINES - 2) / 2 + 1;
    int y = draw_drives(st, 1, split);
    for (; y < split; y++) {
        move(y, 0);
        clrtoeol();
    }
    draw_jobs(st, split, LINES - 2);
    if (!st->message[0] && st->reports_volatile)
        draw_warning_line(st, LINES - 2, "Reports are kept in RAM and lost at power-off: press s to keep them on a drive");
}

void draw_warning_line(const struct station *st, int y, const char *text)
{
    draw_color_on(st, C_WARN);
    mvaddnstr(y, 0, text, COLS);
    draw_color_off(st, C_WARN);
}

void station_draw(struct station *st)
{
    erase();
    if (COLS < 60 || LINES < 16) {
        mvaddstr(0, 0, "clonebay: the window is too small (80x24 or more)");
        refresh();
        return;
    }
    attron(A_REVERSE);
    mvprintw(0, 0, " clonebay %s station ", CLONEBAY_VERSION);
    attroff(A_REVERSE);
    printw("  %zu drives  %zu jobs running  reports: %s", st->devs.count, jq_running(&st->q), st->q.reports_dir);
    if (st->reports_volatile) {
        draw_color_on(st, C_WARN);
        printw(" (RAM)");
        draw_color_off(st, C_WARN);
    }
    const struct screen *scr = station_screen(st);
    scr->draw(st);
    screen_key_bar(st, scr);
    const char *msg = st->mode == MODE_WIZARD && st->wiz.error[0] ? st->wiz.error : st->message;
    if (msg[0] && st->mode != MODE_QUIT)
        draw_wrapped(st, msg, msg == st->wiz.error || st->message_error);
    refresh();
}

int text_wrap(const char *text, int cols, const char **starts, int *lens, int max)
{
    int n = 0;
    while (*text && n < max) {
        int len = (int)strlen(text);
        if (len > cols) {
            len = cols;
            while (len > 0 && text[len] != ' ')
                len--;
            if (len == 0)
                len = cols;
        }
        starts[n] = text;
        lens[n++] = len;
        text += len;
        while (*text == ' ')
            text++;
    }
    return n;
}

void station_key_bar(const struct station *st, const char *const *items)
{
    fkey_bar(st, items);
}

int draw_text_block(const struct station *st, const char *text, int y, int end, int indent, bool error)
{
    const char *starts[WRAP_ROWS];
    int lens[WRAP_ROWS], cols = COLS - indent - 3 > 10 ? COLS - indent - 3 : 10;
    int rows = text_wrap(text, cols, starts, lens, WRAP_ROWS);
    if (rows > end - y)
        return -1;      /* whole or not at all: never cut */
    if (error)
        draw_color_on(st, C_BAD);
    for (int r = 0; r < rows; r++)
        mvaddnstr(y + r, r ? indent + 2 : indent, starts[r], lens[r]);
    if (error)
        draw_color_off(st, C_BAD);
    return rows;
}

int draw_wrapped(const struct station *st, const char *text, bool error)
{
    const char *starts[WRAP_ROWS];
    int lens[WRAP_ROWS], cols = COLS > 1 ? COLS - 1 : 1;
    int max = LINES / 2 < WRAP_ROWS ? LINES / 2 : WRAP_ROWS;
    int rows = text_wrap(text, cols, starts, lens, max);
    int y0 = LINES - 1 - rows;
    if (error)
        draw_color_on(st, C_BAD);
    else
        attron(A_BOLD);
    for (int r = 0; r < rows; r++) {
        move(y0 + r, 0);
        clrtoeol();
        mvaddnstr(y0 + r, 0, starts[r], lens[r]);
    }
    if (error)
        draw_color_off(st, C_BAD);
    else
        attroff(A_BOLD);
    return rows;
}
