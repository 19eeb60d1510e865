/* station: the loop, the keys, and `clonebay station` / `clonebay` with no arguments. */
#include "ui/station.h"
#include "common/clock.h"
#include "ui/cli.h"

#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t quit_signal;

/* Ctrl-C asks first; a closed terminal (SIGHUP) or a shutdown (SIGTERM)
 * cannot wait for an answer: every job is cancelled in order on the way out
 * (maps saved, reports written as cancelled, drives let go). */
static void on_signal(int sig)
{
    quit_signal = sig == SIGHUP || sig == SIGTERM ? 2 : 1;
}

const char *station_image_folder(const struct station *st)
{
    return st->store_dir[0] ? st->store_dir : st->q.reports_dir;
}

void station_rescan(struct station *st)
{
    struct dev_list fresh;
    struct cb_error err = { 0 };
    struct dev_scan_opts o = { .bench_dir = st->opts.bench_dir };
    if (dev_scan(&o, &fresh, &err) != 0) {
        snprintf(st->message, sizeof(st->message), "cannot list drives: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < fresh.count; i++)
        if (jq_uses_drive(&st->q, fresh.drives[i].major, fresh.drives[i].minor)) {
            fresh.drives[i].busy = true;
            snprintf(fresh.drives[i].busy_why, sizeof(fresh.drives[i].busy_why), "in a job of this station");
        }
    /* The cursor stays on its drive, not on its row: the list is re-sorted. */
    struct dev_ident at = { 0 };
    bool had = st->sel_drive >= 0 && st->sel_drive < (int)st->devs.count;
    if (had)
        dev_ident_of(&st->devs.drives[st->sel_drive], &at);
    dev_list_free(&st->devs);
    st->devs = fresh;
    const struct dev_drive *same = had ? dev_ident_find(&st->devs, &at) : NULL;
    if (same)
        st->sel_drive = (int)(same - st->devs.drives);
    if (st->sel_drive >= (int)st->devs.count)
        st->sel_drive = st->devs.count ? (int)st->devs.count - 1 : 0;
    wizard_follow_drives(st);
    st->dirty = true;
}

static void on_drive_event(const struct dev_event *ev, void *arg)
{
    struct station *st = arg;
    snprintf(st->message, sizeof(st->message), "drive %s: %s", ev->name, dev_event_type_name(ev->type));
}

static struct qjob *selected_job(struct station *st)
{
    if (st->sel_job < 0 || st->sel_job >= (int)st->q.count)
        return NULL;
    return st->q.jobs[st->sel_job];
}

static void ask_quit(struct station *st)
{
    if (jq_active(&st->q) == 0)
        st->quit = true;
    else
        st->mode = MODE_QUIT;
}

static void main_key(struct station *st, int key)
{
    int *sel = st->focus_jobs ? &st->sel_job : &st->sel_drive;
    int count = st->focus_jobs ? (int)st->q.count : (int)st->devs.count;
    struct qjob *j;
    switch (key) {
    case KEY_UP: case 'k':
        if (*sel > 0) (*sel)--;
        break;
    case KEY_DOWN: case 'j':
        if (*sel + 1 < count) (*sel)++;
        break;
    case '\t':
        st->focus_jobs = !st->focus_jobs;
        break;
    case KEY_F(1): case '?': case 'h':
        st->mode = MODE_HELP;
        break;
    case KEY_F(2): case 'n':
        wizard_start(st);
        break;
    case KEY_F(5): case 'r':
        station_rescan(st);
        snprintf(st->message, sizeof(st->message), "drives listed again");
        break;
    case KEY_F(8): case 'c':
        if ((j = selected_job(st)) && st->focus_jobs) {
            jq_cancel(&st->q, j->id);
            snprintf(st->message, sizeof(st->message), "job #%d: cancel asked", j->id);
        }
        break;
    case 's':
        store_start(st);
        break;
    case 'a':
        if (!st->focus_jobs && st->sel_drive < (int)st->devs.count) {
            const struct dev_drive *d = &st->devs.drives[st->sel_drive];
            if (!d->is_optical)
                snprintf(st->message, sizeof(st->message), "%s is not an optical drive: 'a' archives discs", d->path);
            else if (archive_toggle(&st->archive, d->path))
                snprintf(st->message, sizeof(st->message),
                         "%s archives every disc put in, into %s (ejects each when done; a again stops)", d->path,
                         station_image_folder(st));
            else
                snprintf(st->message, sizeof(st->message), "%s: archiving stopped", d->path);
        }
        break;
    case 'x':
        jq_clear_finished(&st->q);
        st->sel_job = 0;
        break;
    case '\n': case '\r': case KEY_ENTER: case 'd':
        if (st->focus_jobs && (j = selected_job(st))) {
            st->detail_id = j->id;
            st->mode = MODE_DETAIL;
        } else if (!st->focus_jobs) {
            wizard_start(st);
        }
        break;
    case KEY_F(10): case 'q':
        ask_quit(st);
        break;
    }
}

/* A click on a drive or a job selects it; a double click acts like Enter. */
static void mouse_click(struct station *st)
{
    MEVENT ev;
    if (getmouse(&ev) != OK || st->mode != MODE_MAIN)
        return;
    for (int i = 0; i < (int)st->devs.count && i < 256; i++)
        if (st->drive_row[i] >= 0 && (ev.y == st->drive_row[i] || ev.y == st->drive_row[i] + 1)) {
            st->focus_jobs = false;
            st->sel_drive = i;
        }
    for (int i = 0; i < (int)st->q.count; i++)
        if (st->job_row[i] >= 0 && (ev.y == st->job_row[i] || ev.y == st->job_row[i] + 1)) {
            st->focus_jobs = true;
            st->sel_job = i;
        }
    if (ev.bstate & BUTTON1_DOUBLE_CLICKED)
        main_key(st, '\r');
}

static void handle_key(struct station *st, int key)
{
    st->dirty = true;
    if (key == KEY_MOUSE) {
        mouse_click(st);
        return;
    }
    if (key == KEY_RESIZE) {
        clearok(curscr, TRUE);
        return;
    }
    switch (st->mode) {
    case MODE_MAIN: main_key(st, key); break;
    case MODE_HELP: st->mode = MODE_MAIN; break;
    case MODE_DETAIL:
        if (key == KEY_F(8) || key == 'c')
            jq_cancel(&st->q, st->detail_id);
        else
            st->mode = MODE_MAIN;
        break;
    case MODE_WIZARD: wizard_key(st, key); break;
    case MODE_STORE: store_key(st, key); break;
    case MODE_QUIT:
        if (key == 'y' || key == 'Y')
            st->quit = true;
        else
            st->mode = MODE_MAIN;
        break;
    }
}

static int loop(struct station *st)
{
    double last_draw = 0, last_sample = cb_seconds(), last_scan = cb_seconds();
    while (!st->quit) {
        if (quit_signal == 2) {
            st->quit = true;            /* the jobs are cancelled cleanly on the way out */
            break;
        }
        if (quit_signal) {
            quit_signal = 0;
            ask_quit(st);
            st->dirty = true;
        }
        struct pollfd p[3] = {
            { .fd = STDIN_FILENO, .events = POLLIN },
            { .fd = st->q.event_fd, .events = POLLIN },
            { .fd = st->mon ? dev_monitor_fd(st->mon) : -1, .events = POLLIN },
        };
        int n = poll(p, 3, 100);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            st->quit = true;            /* the terminal went away: do not spin on it */
            break;
        }
        /* Always ask: a resize arrives as a signal (KEY_RESIZE), not as input on stdin. */
        int key;
        while ((key = getch()) != ERR)
            handle_key(st, key);
        if (p[2].revents & POLLIN) {
            if (dev_monitor_drain(st->mon, on_drive_event, st) > 0)
                station_rescan(st);
        }
        size_t running = jq_running(&st->q), active = jq_active(&st->q);
        if (jq_tick(&st->q)) {
            /* A job started or ended: list the drives again (BUSY flags, what
             * a target holds now). Other changes (progress, log lines) must
             * not re-probe every drive: on a failing one that takes seconds. */
            if (running != jq_running(&st->q) || active != jq_active(&st->q))
                station_rescan(st);
            st->dirty = true;
        }
        wizard_tick(st);
        if (st->archive.count &&
            archive_tick(&st->archive, &st->devs, &st->q, station_image_folder(st))) {
            snprintf(st->message, sizeof(st->message), "%s",
                     st->archive.list[(st->archive.nlist - 1) % ARCHIVE_LIST]);
            station_rescan(st);
        }
        double t = cb_seconds();
        if (t - last_sample >= 1.0) {
            jq_sample_rates(&st->q);
            last_sample = t;
            st->dirty = true;
        }
        if (!st->mon && t - last_scan >= 2.0) {     /* no monitor: look every 2 s */
            station_rescan(st);
            last_scan = t;
        }
        if (jq_running(&st->q))
            st->dirty = true;
        if (st->dirty && t - last_draw >= 0.1) {
            station_draw(st);
            last_draw = t;
            st->dirty = false;
        }
    }
    return 0;
}

int station_run(const struct station_opts *opts)
{
    struct station st;
    memset(&st, 0, sizeof(st));
    st.opts = *opts;
    struct cb_error err = { 0 };
    if (jq_init(&st.q, opts->reports_dir, opts->max_parallel, &err))
        return cli_fail(CLI_FAILED, "%s", err.msg);
    st.reports_volatile = store_is_volatile(st.q.reports_dir);
    if (dev_monitor_open(&st.mon, &err))
        st.mon = NULL;      /* rescan on a timer instead */
    station_rescan(&st);
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        jq_shutdown(&st.q);
        return cli_fail(CLI_REFUSED, "the station needs a terminal (use the subcommands in scripts)");
    }
    setlocale(LC_ALL, "");
    initscr();
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);       /* Esc answers at once */
    mousemask(BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED, NULL);     /* click selects, double-click opens */
    st.color = has_colors();
    if (st.color) {
        start_color();
        use_default_colors();
        init_pair(1, COLOR_GREEN, -1);
        init_pair(2, COLOR_RED, -1);
        init_pair(3, COLOR_YELLOW, -1);
        init_pair(4, COLOR_CYAN, -1);
        init_pair(5, COLOR_BLACK, COLOR_CYAN);
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    st.dirty = true;
    int rc = loop(&st);
    endwin();
    size_t running = jq_running(&st.q);
    jq_shutdown(&st.q);     /* cancels what runs, waits, writes their reports */
    if (running)
        printf("clonebay: %zu running job(s) cancelled; reports are in %s\n", running, opts->reports_dir);
    dev_monitor_close(st.mon);
    dev_list_free(&st.devs);
    return rc ? CLI_FAILED : CLI_OK;
}

int cli_station(int argc, char **argv)
{
    static const struct option opts[] = {
        { "bench", required_argument, NULL, 'b' }, { "reports", required_argument, NULL, 'r' },
        { "jobs", required_argument, NULL, 'j' },  { "help", no_argument, NULL, 'h' }, { 0 },
    };
    struct station_opts o = { .reports_dir = getenv("CLONEBAY_REPORTS") ? getenv("CLONEBAY_REPORTS")
                                                                          : "/var/log/clonebay" };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': o.bench_dir = optarg; break;
        case 'r': o.reports_dir = optarg; break;
        case 'j':
            o.max_parallel = atoi(optarg);
            if (o.max_parallel < 0)
                return cli_fail(CLI_REFUSED, "station: --jobs needs 0 (no limit) or more");
            break;
        case 'h':
            puts("Usage: clonebay [station] [--bench DIR] [--reports DIR] [--jobs N]\n"
                 "The station: every drive as it is plugged in, jobs in parallel, live progress.\n"
                 "  --bench DIR     show only loop devices over files in DIR (the practice bench)\n"
                 "  --reports DIR   where job reports go (default /var/log/clonebay, or $CLONEBAY_REPORTS)\n"
                 "  --jobs N        at most N jobs at once (default: all that do not conflict)");
            return CLI_OK;
        default:
            return cli_fail(CLI_REFUSED, "station: unknown option '%s' (try 'clonebay station --help')",
                            argv[optind - 1]);
        }
    }
    return station_run(&o);
}
