/* station_main: the main screen (drives above, jobs below) and its keys, and
 * the question asked when quitting with jobs still active. */
#include "ui/screen.h"
#include "ui/station.h"
#include "ui/station_net.h"

#include <curses.h>
#include <stdio.h>

static struct qjob *selected_job(struct station *st)
{
    if (st->sel_job < 0 || st->sel_job >= (int)st->q.count)
        return NULL;
    return st->q.jobs[st->sel_job];
}

static void up(struct station *st)
{
    int *sel = st->focus_jobs ? &st->sel_job : &st->sel_drive;
    if (*sel > 0)
        (*sel)--;
}

static void down(struct station *st)
{
    int *sel = st->focus_jobs ? &st->sel_job : &st->sel_drive;
    int count = st->focus_jobs ? (int)st->q.count : (int)st->devs.count;
    if (*sel + 1 < count)
        (*sel)++;
}

static void switch_focus(struct station *st)
{
    st->focus_jobs = !st->focus_jobs;
}

static void rescan(struct station *st)
{
    station_rescan(st);
    station_say(st, false, NULL, "drives listed again");
}

static void cancel(struct station *st)
{
    struct qjob *j;
    if (!st->focus_jobs)
        station_say(st, false, NULL, "F8 cancels the chosen job: Tab to the jobs first");
    else if (!(j = selected_job(st)))
        station_say(st, false, NULL, "no job to cancel");
    else if (j->state != QJOB_QUEUED && j->state != QJOB_RUNNING)
        station_say(st, false, NULL, "job #%d has ended already: nothing to cancel", j->id);
    else {
        jq_cancel(&st->q, j->id);
        station_say(st, false, NULL, "job #%d: cancel asked", j->id);
    }
}

/* Enter: a job in detail, or on a drive a new job. */
static void open_chosen(struct station *st)
{
    struct qjob *j;
    if (st->focus_jobs && (j = selected_job(st))) {
        st->detail_id = j->id;
        st->mode = MODE_DETAIL;
    } else if (!st->focus_jobs) {
        wizard_start(st);
    } else {
        station_say(st, false, NULL, "no job to show: F2 starts one");
    }
}

static void bench(struct station *st)
{
    st->mode = MODE_BENCH;
}

static void bell(struct station *st)
{
    st->bell = !st->bell;
    station_say(st, false, NULL, "the bell is %s (m toggles it)",
                st->bell ? "on: one beep when a job is verified, three when one fails" : "off");
}

static void archive(struct station *st)
{
    if (st->focus_jobs || st->sel_drive >= (int)st->devs.count) {
        station_say(st, false, NULL, "a archives discs: choose an optical drive in the drives first (Tab)");
        return;
    }
    const struct dev_drive *d = &st->devs.drives[st->sel_drive];
    if (!d->is_optical)
        station_say(st, false, NULL, "%s is not an optical drive: 'a' archives discs", d->path);
    else if (archive_toggle(&st->archive, d->path))
        station_say(st, false, NULL, "%s archives every disc put in, into %s (ejects each when done; a again stops)",
                    d->path, station_image_folder(st));
    else
        station_say(st, false, NULL, "%s: archiving stopped", d->path);
}

static void clear_finished(struct station *st)
{
    if (jq_active(&st->q) == st->q.count)
        station_say(st, false, NULL, "x clears finished jobs: none has finished");
    jq_clear_finished(&st->q);
    st->sel_job = 0;
}

/* i: the chosen drive in full (its health from the background cache: never waits). */
static void drive_in_full(struct station *st)
{
    if (st->focus_jobs || st->sel_drive >= (int)st->devs.count) {
        station_say(st, false, NULL, "i shows a drive in full: choose one in the drives first (Tab)");
        return;
    }
    dev_ident_of(&st->devs.drives[st->sel_drive], &st->drive_shown);
    st->mode = MODE_DRIVE;
}

/* The labelled keys make the bar, whole at 80 columns (the serial console);
 * the others are in the help only. */
static const struct key_binding main_keys[] = {
    { KEY_UP, 'k', NULL, "choose the drive or the job above", up },
    { KEY_DOWN, 'j', NULL, "choose the drive or the job below", down },
    { '\t', 0, NULL, "switch between drives and jobs", switch_focus },
    { KEY_F(1), '?', "Help", "this help", station_help },
    { KEY_F(2), 'n', "New", "new job (also Enter on a drive)", wizard_start },
    { KEY_F(5), 'r', "Rescan", "list the drives again", rescan },
    { KEY_F(8), 'c', "Cancel", "cancel the chosen job", cancel },
    { '\r', 'd', "Detail", "job detail (on a job); new job (on a drive)", open_chosen },
    { 'b', 0, "Bench", "bench view: one tile per drive, readable from across the room (b or Esc returns)", bench },
    { 's', 0, "Store", "where images and reports go: pick a partition of a drive", store_start },
    { 'o', 0, "Browse", "browse an image in the store, read-only: partitions, files; copy files out", browse_start },
    { 'x', 0, "Clear", "clear finished jobs", clear_finished },
    { KEY_F(10), 'q', "Quit", "quit (asks when jobs run)", station_ask_quit },
    { 'R', 0, NULL, "receive from the network: the image a sender streams, onto the drives you mark",
      station_net_receive_start },
    { 'S', 0, NULL, "send an image to the network: every PC receiving gets it at once; the receivers, live",
      station_net_send_start },
    { 'a', 0, NULL, "on an optical drive: archive every disc put in (ISO, eject, next)", archive },
    { 'm', 0, NULL, "the bell on/off (one beep when a job is verified, three when one fails)", bell },
    { 'i', 0, NULL, "the chosen drive in full: sector sizes, SMART health and its figures, hidden areas",
      drive_in_full },
    { 'h', 0, NULL, NULL, station_help },       /* an old habit, kept */
    { 0 },
};

static const char *const main_notes[] = {
    "New job: pick the source, then the targets (Space marks, several at once),",
    "or 'Image file' to save the drive as an image; 'i' on the source step restores",
    "an image instead. Drives that cannot be written are shown with the reason.",
    "Nothing is written before the confirmation screen and a press of Y.",
    "",
    "Flags: SYSTEM holds the running system; MOUNTED in use; BUSY written by a job or program; RO read-only.",
    "Health (SMART): ok, worn (reallocated sectors, wear), failing (pending sectors: rescue it), unknown (none).",
    "Under each job, one line per target: writing, verifying, VERIFIED or FAILED, its bytes and rate;",
    "'slow' marks a target under half the speed of the others, 'not answering since' one that went silent.",
    "Block map: # copied  . to do  / being rescued  X unreadable",
    NULL,
};

const struct screen main_screen = {
    .name = "main",
    .draw = station_main_draw,
    .keys = main_keys,
    .what_works = "F1 lists the keys",
    .notes = main_notes,
};

/* ---- quitting while jobs are active: y cancels them and quits ---- */

static void quit_now(struct station *st)
{
    st->quit = true;
}

static void draw_quit(struct station *st)
{
    station_main_draw(st);
    screen_key_bar(st, &main_screen);
    char ask[96];
    snprintf(ask, sizeof(ask), "%zu job(s) still active: cancel them and quit? (y/n)", jq_active(&st->q));
    draw_warning_line(st, LINES - 2, ask);
}

static const struct key_binding quit_keys[] = {
    { 'y', 'Y', NULL, "cancel every active job and quit", quit_now },
    { 0 },
};

const struct screen quit_screen = {
    .name = "quit",
    .draw = draw_quit,
    .key = screen_any_key_returns,
    .keys = quit_keys,
};
