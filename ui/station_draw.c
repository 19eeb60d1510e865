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

enum { C_GOOD = 1, C_BAD, C_WARN, C_INFO, C_BAR };

static void color_on(const struct station *st, int pair)
{
    if (st->color)
        attron(COLOR_PAIR(pair));
    else if (pair == C_BAD || pair == C_WARN)
        attron(A_BOLD);
}

static void color_off(const struct station *st, int pair)
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
static const char *model_of(const struct dev_drive *d)
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
        color_on(st, pair);
    addnstr(w, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
    if (pair)
        color_off(st, pair);
    if (d->size && (d->logical_sector != 512 || d->physical_sector != 512)) {
        snprintf(w, sizeof(w), " %u/%uB", d->logical_sector, d->physical_sector);
        addnstr(w, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
    }
    char hidden[96];
    dev_health_hidden_text(h, hidden, sizeof(hidden));
    if (hidden[0]) {
        snprintf(w, sizeof(w), " %s", hidden);
        color_on(st, C_WARN);
        addnstr(w, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
        color_off(st, C_WARN);
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
                 mw, mw, model_of(d), d->serial[0] ? d->serial : "-");
        bool sel = !st->focus_jobs && i == st->sel_drive && st->mode == MODE_MAIN;
        if (sel)
            attron(A_REVERSE);
        mvaddnstr(y, 0, line, COLS);
        if (sel)
            attroff(A_REVERSE);
        /* The safety flags first: on a narrow screen (a serial console) what is cut
         * must be the health word or the sector sizes, never SYSTEM or MOUNTED. */
        if (fl[0]) {
            color_on(st, d->system || d->mounted ? C_BAD : C_WARN);
            addnstr(fl, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
            color_off(st, d->system || d->mounted ? C_BAD : C_WARN);
        }
        struct dev_health health;
        health_and_sectors(st, d, &health);
        struct drive_status ds;
        station_drive_status(st, d, &ds);
        if (ds.color == UI_COLOR_WARNING && ds.detail[0]) {
            char w[200];
            snprintf(w, sizeof(w), " %s", ds.detail);
            color_on(st, ds.stalled_since ? C_BAD : C_WARN);
            addnstr(w, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
            color_off(st, ds.stalled_since ? C_BAD : C_WARN);
        }
        const struct archive_drive *ar = archive_find(&st->archive, d->path);
        if (ar) {
            color_on(st, C_INFO);
            addnstr(" ARCHIVING", COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
            color_off(st, C_INFO);
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
                color_on(st, health.state == DEV_HEALTH_FAILING ? C_BAD : C_WARN);
                addnstr(why, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
                color_off(st, health.state == DEV_HEALTH_FAILING ? C_BAD : C_WARN);
            }
            clrtoeol();
            y++;
        }
    }
    return y;
}

static void job_line2(const struct station *st, const struct qjob *j, int y)
{
    move(y, 0);
    clrtoeol();
    if (j->state == QJOB_QUEUED) {
        mvaddstr(y, 5, "waiting: another job uses one of these drives");
        return;
    }
    if (j->state != QJOB_RUNNING) {
        int pair = j->state == QJOB_DONE ? C_GOOD : j->state == QJOB_DONE_BAD ? C_WARN : C_BAD;
        color_on(st, pair);
        mvaddnstr(y, 5, j->verdict, COLS - 5 > 0 ? COLS - 5 : 0);
        color_off(st, pair);
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
        color_on(st, C_WARN);
        mvaddnstr(y, x, held, COLS - x > 0 ? COLS - x : 0);
        color_off(st, C_WARN);
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
             (unsigned long long)(bad / 512), (unsigned long long)areas);
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
        color_on(st, pair);
    addnstr(v.word, COLS - n > 0 ? COLS - n : 0);
    if (pair)
        color_off(st, pair);
    if (v.state == TGT_FAILED) {
        printw(": ");
    } else if (v.state != TGT_WAITING && v.state != TGT_PREPARING) {
        snprintf(line, sizeof(line), "  %s of %s", done, total);
        if (j->state == QJOB_RUNNING)
            snprintf(line + strlen(line), sizeof(line) - strlen(line), "  %.1f MB/s", (double)v.rate / 1e6);
        addnstr(line, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
    }
    if (v.slow) {
        color_on(st, C_WARN);
        addnstr("  slow", COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
        color_off(st, C_WARN);
    }
    if (v.stalled_since) {
        char at[16];
        hms(v.stalled_since, at, sizeof(at));
        snprintf(line, sizeof(line), "  not answering since %s", at);
        color_on(st, C_BAD);
        addnstr(line, COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
        color_off(st, C_BAD);
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
        job_line2(st, j, y + 1);
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
    color_on(st, C_WARN);
    mvaddnstr(y, 0, text, COLS);
    color_off(st, C_WARN);
}

/* The block map as a grid of cells, each showing the worst state inside it. */
static void draw_map(struct qjob *j, int y, int rows, int cols)
{
    struct block_map snap = { 0 };
    if (!j->job || clone_job_map_snapshot(j->job, &snap) != 0 || snap.size == 0) {
        mvaddstr(y, 2, "(no map yet)");
        map_free(&snap);
        return;
    }
    int cells = rows * cols;
    size_t r = 0;
    for (int c = 0; c < cells; c++) {
        uint64_t from = snap.size * (uint64_t)c / (uint64_t)cells, to = snap.size * (uint64_t)(c + 1) / (uint64_t)cells;
        char worst = '#';
        while (r < snap.count && snap.r[r].pos + snap.r[r].size <= from)
            r++;
        for (size_t k = r; k < snap.count && snap.r[k].pos < (to > from ? to : from + 1); k++) {
            char s = snap.r[k].state;
            char ch = s == MAP_FINISHED ? '#' : s == MAP_BAD ? 'X' : s == MAP_NONTRIED ? '.' : '/';
            if (ch == 'X' || (ch == '/' && worst != 'X') || (ch == '.' && worst == '#'))
                worst = ch;
        }
        mvaddch(y + c / cols, 2 + c % cols, (chtype)worst);
    }
    map_free(&snap);
}

static int wrap(const char *text, int cols, const char **starts, int *lens, int max);

/* The newest log lines that fit in rows y..end-1, each wrapped whole, never cut. */
static void draw_log(const struct qjob *j, int y, int end)
{
    enum { MAX_ROWS = 8 };
    const char *starts[MAX_ROWS];
    int lens[MAX_ROWS], cols = COLS - 5 > 10 ? COLS - 5 : 10;
    int total = j->nlog < JQ_LOG_LINES ? j->nlog : JQ_LOG_LINES, first = j->nlog, need = 0;
    while (first > j->nlog - total) {
        int r = wrap(j->log[(first - 1) % JQ_LOG_LINES], cols, starts, lens, MAX_ROWS);
        if (need + r > end - y)
            break;
        need += r;
        first--;
    }
    for (int i = first; i < j->nlog; i++) {
        int r = wrap(j->log[i % JQ_LOG_LINES], cols, starts, lens, MAX_ROWS);
        for (int k = 0; k < r && y < end; k++)
            mvaddnstr(y++, k ? 4 : 2, starts[k], lens[k]);
    }
}

static void draw_detail(struct station *st)
{
    static const char *const keys[] = { "F8", "Cancel", "Esc", "Back", NULL };
    struct qjob *j = jq_find(&st->q, st->detail_id);
    if (!j) {
        st->mode = MODE_MAIN;
        return;
    }
    attron(A_BOLD);
    mvprintw(1, 0, "Job #%d  %s  %s -> %s%s   [%s]", j->id, job_kind_name(j->kind), j->source, j->targets[0],
             j->ntargets > 1 ? " ..." : "", qjob_state_name(j->state));
    attroff(A_BOLD);
    if (j->state == QJOB_RUNNING || j->state == QJOB_QUEUED)
        job_line2(st, j, 2);
    else
        mvaddnstr(2, 2, j->verdict, COLS - 2);      /* whole in the log below */
    int cols = COLS - 4, rows = LINES / 3;
    if (rows < 3)
        rows = 3;
    mvaddstr(3, 0, "Block map (# copied  . to do  / rescuing  X unreadable):");
    draw_map(j, 4, rows, cols);
    int y = 4 + rows;
    /* Sparkline: the last rates, scaled to the highest. */
    static const char levels[] = " .:-=+*#%@";
    uint64_t top = 1;
    for (int i = 0; i < j->nrates; i++)
        if (j->rates[i] > top)
            top = j->rates[i];
    mvprintw(y++, 0, "Throughput (1 s a column, top %.0f MB/s):", (double)top / 1e6);
    move(y, 2);
    int first = j->nrates > cols ? j->nrates - cols : 0;
    for (int i = first; i < j->nrates; i++)
        addch((chtype)levels[(int)(j->rates[i] * 9 / top)]);
    y += 2;
    /* What the bad sectors hit, once the job is over (the list is complete then); the report has it all. */
    const struct fs_owner_list *dmg = j->job && j->state != QJOB_RUNNING && j->state != QJOB_QUEUED
                                      ? &j->job->damaged : NULL;
    for (size_t i = 0; dmg && i < dmg->count && i < 6 && y < LINES - 4; i++) {
        const struct fs_owner *o = &dmg->v[i];
        char sz[32];
        units_format_bytes(o->bytes, sz, sizeof(sz));
        if (!i)
            mvaddstr(y++, 0, "What the unreadable sectors hit:");
        mvprintw(y++, 2, "#%-2d %-10s %.*s  %s", o->partition, fs_owner_kind_name(o->kind), COLS / 2, o->name, sz);
    }
    if (dmg && dmg->count > 6)
        mvprintw(y++, 2, "... %zu more in the report", dmg->count - 6);
    mvaddstr(y++, 0, "Log:");
    draw_log(j, y, LINES - 1);
    fkey_bar(st, keys);
}

static void draw_wizard(struct station *st);

/* The "s" dialog: the filesystems that can keep images and reports. */
static void draw_store(struct station *st)
{
    static const char *const keys[] = { "Enter", "Use it", "Esc", "Back", NULL };
    attron(A_BOLD);
    mvaddstr(1, 0, "Where to keep images and reports: a partition of a connected drive (mounted under /mnt)");
    attroff(A_BOLD);
    if (st->nstores == 0)
        mvaddstr(3, 2, "No drive holds a filesystem clonebay can write (ext4, FAT, exFAT, NTFS, XFS, btrfs).");
    for (int i = 0; i < (int)st->nstores && i + 3 < LINES - 3; i++) {
        const struct store_choice *c = &st->stores[i];
        char sz[32], line[512];
        units_format_bytes(c->size, sz, sizeof(sz));
        snprintf(line, sizeof(line), "  %-16s %-6s %10s  %-16.16s %-22.22s %s", c->dev, c->fstype, sz,
                 c->label[0] ? c->label : "-", c->model, c->mountpoint[0] ? c->mountpoint : "");
        if (i == st->store_cursor)
            attron(A_REVERSE);
        mvaddnstr(i + 3, 0, line, COLS);
        if (i == st->store_cursor)
            attroff(A_REVERSE);
    }
    fkey_bar(st, keys);
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
        color_on(st, C_WARN);
        printw(" (RAM)");
        color_off(st, C_WARN);
    }
    const struct screen *scr = station_screen(st);
    if (scr) {
        scr->draw(st);
        screen_key_bar(st, scr);
    }
    switch (scr ? MODE_MAIN : st->mode) {
    case MODE_BENCH: draw_bench(st); break;
    case MODE_DRIVE: station_drive_draw(st); break;
    case MODE_DETAIL: draw_detail(st); break;
    case MODE_WIZARD: draw_wizard(st); break;
    case MODE_STORE: draw_store(st); break;
    case MODE_BROWSE: draw_browse(st); break;
    default: break;
    }
    const char *msg = st->mode == MODE_WIZARD && st->wiz.error[0] ? st->wiz.error : st->message;
    if (msg[0] && st->mode != MODE_QUIT)
        draw_wrapped(st, msg, msg == st->wiz.error || st->message_error);
    refresh();
}

/* Break text at spaces into rows of at most cols; a word longer than a row is cut across rows. */
static int wrap(const char *text, int cols, const char **starts, int *lens, int max)
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
    enum { MAX_ROWS = 40 };
    const char *starts[MAX_ROWS];
    int lens[MAX_ROWS], cols = COLS - indent - 3 > 10 ? COLS - indent - 3 : 10;
    int rows = wrap(text, cols, starts, lens, MAX_ROWS);
    if (rows > end - y)
        return -1;      /* whole or not at all: never cut */
    if (error)
        color_on(st, C_BAD);
    for (int r = 0; r < rows; r++)
        mvaddnstr(y + r, r ? indent + 2 : indent, starts[r], lens[r]);
    if (error)
        color_off(st, C_BAD);
    return rows;
}

int draw_wrapped(const struct station *st, const char *text, bool error)
{
    enum { MAX_ROWS = 40 };
    const char *starts[MAX_ROWS];
    int lens[MAX_ROWS], cols = COLS > 1 ? COLS - 1 : 1;
    int max = LINES / 2 < MAX_ROWS ? LINES / 2 : MAX_ROWS;
    int rows = wrap(text, cols, starts, lens, max);
    int y0 = LINES - 1 - rows;
    if (error)
        color_on(st, C_BAD);
    else
        attron(A_BOLD);
    for (int r = 0; r < rows; r++) {
        move(y0 + r, 0);
        clrtoeol();
        mvaddnstr(y0 + r, 0, starts[r], lens[r]);
    }
    if (error)
        color_off(st, C_BAD);
    else
        attroff(A_BOLD);
    return rows;
}

/* ---- the new-job wizard's screens (its keys are in station_wizard.c) ---- */

static void wiz_drive_list(struct station *st, int y, bool targets)
{
    for (int i = 0; i < (int)st->devs.count && y < LINES - 3; i++) {
        const struct dev_drive *d = &st->devs.drives[i];
        char sz[32], line[512];
        units_format_bytes(d->size, sz, sizeof(sz));
        const char *why = targets ? wizard_unpickable(st, d) : NULL;
        snprintf(line, sizeof(line), " %s %-12s %-7s %10s  %-22.22s %-16.16s", targets ? (wizard_picked(&st->wiz, d) ? "[x]" : "[ ]") : "  ",
                 d->path, dev_kind_name(d->kind), sz, model_of(d), d->serial[0] ? d->serial : "-");
        bool sel = i == st->wiz.cursor;
        if (sel)
            attron(A_REVERSE);
        if (why)
            attron(A_DIM);
        mvaddnstr(y, 0, line, COLS);
        if (why) {
            attroff(A_DIM);
            color_on(st, C_BAD);
            printw("  can't: %s", why);
            color_off(st, C_BAD);
        } else if (targets && d->size < st->wiz.source_size) {
            color_on(st, C_WARN);
            printw("  smaller (fitted)");
            color_off(st, C_WARN);
        }
        if (sel)
            attroff(A_REVERSE);
        y++;
    }
    if (targets && st->wiz.kind != JOB_RESTORE) {
        bool sel = st->wiz.cursor == (int)st->devs.count;
        if (sel)
            attron(A_REVERSE);
        mvaddstr(y, 0, "     Image file... (save the source as a compressed image)");
        if (sel)
            attroff(A_REVERSE);
    }
}

/* Each target's plan, or the refusal, as the preview worked them out. */
static int draw_preview(struct station *st, int y)
{
    const struct job_preview *p = st->wiz.preview;
    if (!p || st->wiz.step != WIZ_CONFIRM || y >= LINES - 4)
        return y;
    y++;
    if (!job_preview_done(p)) {
        mvaddstr(y++, 2, "Working out each target's plan (reading the source's partitions)...");
        return y;
    }
    const char *refusal = job_preview_refusal(p);
    if (refusal) {
        color_on(st, C_BAD);
        mvaddnstr(y++, 2, "This job would be refused:", COLS - 2);
        for (size_t off = 0, len = strlen(refusal); off < len && y < LINES - 4; off += (size_t)(COLS - 4))
            mvaddnstr(y++, 4, refusal + off, COLS - 4);
        color_off(st, C_BAD);
        return y;
    }
    int n;
    const char (*notes)[512] = job_preview_notes(p, &n);
    bool any = false;
    for (int i = 0; i < n && y < LINES - 4; i++) {
        if (!strstr(notes[i], "partitions fitted"))
            continue;
        if (!any)
            mvaddstr(y++, 2, "Plan for each target:");
        any = true;
        for (size_t off = 0, len = strlen(notes[i]); off < len && y < LINES - 4; off += (size_t)(COLS - 6))
            mvaddnstr(y++, 4, notes[i] + off, COLS - 6);
    }
    if (!any)
        mvaddstr(y++, 2, "Plan: every target gets the source's partitions as they are.");
    return y;
}

static void draw_wizard(struct station *st)
{
    struct wizard *w = &st->wiz;
    static const char *const keys_src[] = { "Enter", "Choose", "i", "Restore an image", "o", "Browse an image", "Esc",
                                            "Cancel", NULL };
    static const char *const keys_tgt[] = { "Space", "Mark", "Enter", "Next", "Esc", "Back", NULL };
    static const char *const keys_opt[] = { "h", "Hash", "v", "Verify", "m", "Mode", "r", "Resize", "t", "Retries",
                                            "p", "Map", "Enter", "Next", "Esc", "Back", NULL };
    static const char *const keys_ok[] = { "Y", "Start", "Esc", "Back", NULL };
    static const char *const keys_starting[] = { "Esc", "Main screen", NULL };
    static const char *const keys_path[] = { "Enter", "OK", "Esc", "Back", NULL };
    attron(A_BOLD);
    switch (w->step) {
    case WIZ_SOURCE:
        mvaddstr(1, 0, "New job, step 1 of 4: the SOURCE drive (read only)");
        attroff(A_BOLD);
        wiz_drive_list(st, 3, false);
        fkey_bar(st, keys_src);
        break;
    case WIZ_TARGETS:
        mvprintw(1, 0, "New job, step 2 of 4: the TARGETS for %s (Space marks; every marked drive is overwritten)",
                 w->source);
        attroff(A_BOLD);
        wiz_drive_list(st, 3, true);
        fkey_bar(st, keys_tgt);
        break;
    case WIZ_PATH:
        mvaddstr(1, 0, w->path_for_restore ? "Restore: the image file to write to drives"
                                           : "Image: the file to save the source in (.zst is added)");
        attroff(A_BOLD);
        mvprintw(3, 2, "file: %s_", w->path);
        fkey_bar(st, keys_path);
        break;
    case WIZ_OPTIONS: {
        mvaddstr(1, 0, "New job, step 3 of 4: options");
        attroff(A_BOLD);
        char hashes[64] = "";
        for (int a = 0; a < HASH_COUNT; a++)
            if (w->hash_mask & (1u << a))
                snprintf(hashes + strlen(hashes), sizeof(hashes) - strlen(hashes), "%s%s", hashes[0] ? "," : "",
                         hash_name((enum hash_alg)a));
        mvprintw(3, 2, "h  hash         %s", hashes[0] ? hashes : "none");
        mvprintw(4, 2, "v  verify       %s", w->verify ? "yes: read every target back from the media" : "no");
        int y = 5;
        if (w->kind != JOB_RESTORE)
            mvprintw(y++, 2, "m  mode         %s", w->mode == MODE_USED ? "used: only the blocks the filesystems use"
                     : w->mode == MODE_RAW ? "raw: every sector" : "auto: used when every partition is understood");
        if (w->kind != JOB_IMAGE)
            mvprintw(y++, 2, "r  resize       %s", w->resize == RESIZE_KEEP ? "keep: the table as it is"
                     : "fit: partitions fitted to each target's size");
        mvprintw(y++, 2, "t  retries      %d pass%s over unreadable sectors", w->retries, w->retries == 1 ? "" : "es");
        mvprintw(y++, 2, "p  map file     %s", w->keep_map ? "yes, beside the reports: a crash or a pulled cable "
                 "resumes" : "no");
        if (w->kind == JOB_IMAGE) {
            char sp[32] = "none";
            if (w->split)
                units_format_bytes(w->split, sp, sizeof(sp));
            mvprintw(y++, 2, "+- zstd level   %d", w->level);
            mvprintw(y++, 2, "s  split        %s", sp);
        }
        fkey_bar(st, keys_opt);
        break;
    }
    case WIZ_CONFIRM:
    case WIZ_STARTING: {
        mvaddstr(1, 0, "New job, step 4 of 4: confirm");
        attroff(A_BOLD);
        int y = 3;
        mvprintw(y++, 2, "%s %s", w->kind == JOB_RESTORE ? "Restore image" : "Read", w->source);
        if (w->kind == JOB_IMAGE) {
            mvprintw(y++, 2, "and save it as %s (a new file; nothing is overwritten)", w->path);
        } else {
            color_on(st, C_WARN);
            mvaddstr(y++, 2, "EVERYTHING ON THESE DRIVES WILL BE OVERWRITTEN:");
            color_off(st, C_WARN);
            for (size_t i = 0; i < w->npicked && y < LINES - 4; i++) {
                const struct dev_drive *d = dev_ident_find(&st->devs, &w->picked[i]);
                if (!d)
                    continue;
                char sz[32], what[512];
                units_format_bytes(d->size, sz, sizeof(sz));
                job_drive_contents(d, what, sizeof(what));
                mvprintw(y++, 4, "%s  %s  serial %s  %s", d->path, model_of(d),
                         d->serial[0] ? d->serial : "-", sz);
                mvprintw(y++, 8, "holds: %s", what);
                if (d->size < w->source_size)
                    mvprintw(y++, 8, "smaller than the source: its partitions are fitted onto it (Y checks they fit)");
            }
        }
        y = draw_preview(st, y);
        y++;
        attron(A_BOLD);
        if (w->step == WIZ_STARTING)
            mvprintw(y, 2, "Job #%d is being prepared: checking the drives again and planning. Esc returns to "
                     "the main screen; the job goes on.", w->starting_id);
        else
            mvaddstr(y, 2, "Press Y to start, Esc to go back.");
        attroff(A_BOLD);
        fkey_bar(st, w->step == WIZ_STARTING ? keys_starting : keys_ok);
        break;
    }
    }
    attroff(A_BOLD);
    /* w->error is drawn whole by station_draw, like every screen's message. */
}
