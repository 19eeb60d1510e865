/* station: the loop, the keys, and `clonebay station` / `clonebay` with no arguments. */
#include "ui/station.h"
#include "common/clock.h"
#include "common/units.h"
#include "ui/cli.h"
#include "ui/screen.h"

#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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

void station_say(struct station *st, bool error, struct qjob *job, const char *fmt, ...)
{
    char text[sizeof(st->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (job)
        qjob_log(job, "%s", text);
    /* An error stays until a key is pressed: a hot-plug notice must not hide it. */
    if (st->message[0] && st->message_error && !error)
        return;
    snprintf(st->message, sizeof(st->message), "%s", text);
    st->message_error = error;
    st->dirty = true;
}

void station_key_unused(struct station *st, int key, const char *what_works)
{
    char name[32];
    station_say(st, false, NULL, "%s does nothing here: %s", screen_key_name(key, name, sizeof(name)), what_works);
}

void station_rescan(struct station *st)
{
    struct dev_list fresh;
    struct cb_error err = { 0 };
    struct dev_scan_opts o = { .bench_dir = st->opts.bench_dir };
    if (dev_scan(&o, &fresh, &err) != 0) {
        station_say(st, true, NULL, "cannot list drives: %s", err.msg);
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

/* On the practice bench, a loop device of another program (a test, a build)
 * is not news, and re-probing every drive for it would read the bench's
 * drives while jobs write them: only ours, or one over a file in the bench. */
static bool event_concerns_us(const struct station *st, const char *name)
{
    if (!st->opts.bench_dir)
        return true;
    for (size_t i = 0; i < st->devs.count; i++) {
        const char *n = strrchr(st->devs.drives[i].path, '/');
        if (n && !strcmp(n + 1, name))
            return true;
    }
    char path[128], back[4096] = "";
    snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ours = fgets(back, sizeof(back), f) && !strncmp(back, st->opts.bench_dir, strlen(st->opts.bench_dir));
    fclose(f);
    return ours;
}

static void on_drive_event(const struct dev_event *ev, void *arg)
{
    struct station *st = arg;
    if (!event_concerns_us(st, ev->name))
        return;
    st->drive_events++;
    station_say(st, false, NULL, "drive %s: %s", ev->name, dev_event_type_name(ev->type));
}

void station_ask_quit(struct station *st)
{
    if (jq_active(&st->q) == 0)
        st->quit = true;
    else
        st->mode = MODE_QUIT;
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
        screen_dispatch(st, &main_screen, '\r');
}

const struct screen *station_screen(const struct station *st)
{
    static const struct screen *const by_mode[] = {
        [MODE_MAIN] = &main_screen, [MODE_HELP] = &help_screen, [MODE_QUIT] = &quit_screen,
        [MODE_DETAIL] = &detail_screen, [MODE_DRIVE] = &drive_screen,
        [MODE_STORE] = &store_screen, [MODE_BENCH] = &bench_screen,
        [MODE_WIZARD] = &wizard_screen, [MODE_BROWSE] = &browse_screen,
        [MODE_NET_RECEIVE] = &net_receive_screen, [MODE_NET_SEND] = &net_send_screen,
    };
    const struct screen *s = (size_t)st->mode < sizeof(by_mode) / sizeof(by_mode[0]) ? by_mode[st->mode] : NULL;
    if (!s)
        s = &main_screen;       /* a mode without a screen: never left stranded */
    return s->current ? s->current(st) : s;
}

void station_key(struct station *st, int key)
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
    st->message[0] = '\0';     /* read: a key was pressed */
    st->message_error = false;
    st->wiz.error[0] = '\0';  /* the wizard's refusal, read too */
    screen_dispatch(st, station_screen(st), key);
}

/* Jobs that ended: the bell, the session's tally, and a failure said where the eye is. */
static void jobs_ended(struct station *st)
{
    struct qjob *j;
    while ((j = jq_take_ended(&st->q))) {
        session_add_job(&st->session, j);
        if (j->state == QJOB_CANCELLED)
            continue;
        bool good = j->state == QJOB_DONE;
        if (st->bell) {
            if (!st->beeps_pending)
                st->next_beep = cb_seconds();
            st->beeps_pending += good ? 1 : 3;
        }
        if (!good)
            station_say(st, true, NULL, "job #%d %s: %s", j->id, qjob_state_name(j->state), j->verdict);
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
            station_ask_quit(st);
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
            station_key(st, key);
        if (p[2].revents & POLLIN) {
            st->drive_events = 0;
            dev_monitor_drain(st->mon, on_drive_event, st);
            if (st->drive_events > 0)
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
        if (st->health && dev_health_cache_generation(st->health) != st->health_seen) {
            st->health_seen = dev_health_cache_generation(st->health);
            st->dirty = true;       /* a drive's health was read */
        }
        browse_tick(st);
        station_net_tick(st);
        jobs_ended(st);
        if (st->beeps_pending && cb_seconds() >= st->next_beep) {
            beep();
            st->beeps_pending--;
            st->next_beep = cb_seconds() + 0.4;     /* three beeps heard as three */
        }
        if (st->archive.count &&
            archive_tick(&st->archive, &st->devs, &st->q, station_image_folder(st))) {
            station_say(st, false, NULL, "%s", st->archive.list[(st->archive.nlist - 1) % ARCHIVE_LIST]);
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

/* Shown on quit and saved beside the reports: what this station did today. */
static void session_summary(struct station *st)
{
    char path[4200];
    struct cb_error err = { 0 };
    session_write_text(&st->session, stdout);
    if (session_save(&st->session, st->q.reports_dir, path, sizeof(path), &err))
        cli_fail(CLI_FAILED, "%s", err.msg);
    else
        printf("session summary saved: %s (and .json)\n", path);
}

int station_run(const struct station_opts *opts)
{
    struct station st;
    memset(&st, 0, sizeof(st));
    st.opts = *opts;
    st.bell = !opts->no_bell;
    session_start(&st.session);
    struct cb_error err = { 0 };
    if (jq_init(&st.q, opts->reports_dir, opts->max_parallel, &err))
        return cli_fail(CLI_FAILED, "%s", err.msg);
    st.q.stall_seconds = opts->stall_seconds;
    st.reports_volatile = store_is_volatile(st.q.reports_dir);
    if (dev_monitor_open(&st.mon, &err))
        st.mon = NULL;      /* rescan on a timer instead */
    station_rescan(&st);
    if (station_netbooted())
        station_net_receive_start(&st);     /* a PC booted by clonebay netboot waits for a sender */
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        jq_shutdown(&st.q);
        return cli_fail(CLI_REFUSED, "the station needs a terminal (use the subcommands in scripts)");
    }
    if (dev_health_cache_open(&st.health, 2, 60) != 0)
        st.health = NULL;   /* health is then not shown */
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
    ui_colors_init(&st);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    st.dirty = true;
    int rc = loop(&st);
    endwin();
    jobs_ended(&st);
    size_t running = jq_active(&st.q);
    jq_shutdown(&st.q);     /* cancels what runs, waits, writes their reports */
    wizard_end(&st);        /* then the previews still working out plans (they write nothing) */
    station_net_end(&st);   /* a send session stopped, its report written */
    char still[2048];
    if (browse_end(&st, still, sizeof(still)))     /* the images this station opened, and only those */
        cli_fail(CLI_FAILED, "an image the station opened is still mounted: %s", still);
    if (running)
        printf("clonebay: %zu running job(s) cancelled; reports are in %s\n", running, opts->reports_dir);
    session_add_cancelled(&st.session, (int)running);
    session_summary(&st);
    dev_monitor_close(st.mon);
    dev_health_cache_close(st.health);
    dev_list_free(&st.devs);
    return rc ? CLI_FAILED : CLI_OK;
}

int cli_station(int argc, char **argv)
{
    static const struct option opts[] = {
        { "bench", required_argument, NULL, 'b' }, { "reports", required_argument, NULL, 'r' },
        { "jobs", required_argument, NULL, 'j' },  { "help", no_argument, NULL, 'h' },
        { "stall-seconds", required_argument, NULL, 'S' }, { "no-bell", no_argument, NULL, 'B' }, { 0 },
    };
    struct station_opts o = { .reports_dir = getenv("CLONEBAY_REPORTS") ? getenv("CLONEBAY_REPORTS")
                                                                          : "/var/log/clonebay" };
    const char *stall = getenv("CLONEBAY_STALL_SECONDS");
    if (stall)
        o.stall_seconds = atoi(stall);
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
        case 'S':
            o.stall_seconds = atoi(optarg);
            if (o.stall_seconds < 1)
                return cli_fail(CLI_REFUSED, "station: --stall-seconds needs 1 or more");
            break;
        case 'B': o.no_bell = true; break;
        case 'h':
            puts("Usage: clonebay [station] [--bench DIR] [--reports DIR] [--jobs N] [--stall-seconds N] [--no-bell]\n"
                 "The station: every drive as it is plugged in, jobs in parallel, live progress.\n"
                 "  --bench DIR     show only loop devices over files in DIR (the practice bench)\n"
                 "  --reports DIR   where job reports go (default /var/log/clonebay, or $CLONEBAY_REPORTS)\n"
                 "  --jobs N        at most N jobs at once (default: all that do not conflict)\n"
                 "  --stall-seconds N  a drive silent this long is 'not answering' (default 30,\n"
                 "                  or $CLONEBAY_STALL_SECONDS)\n"
                 "  --no-bell       no beep when a job ends (m in the station toggles it)");
            return CLI_OK;
        default:
            return cli_fail(CLI_REFUSED, "station: unknown option '%s' (try 'clonebay station --help')",
                            argv[optind - 1]);
        }
    }
    return station_run(&o);
}
