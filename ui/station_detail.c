/* station_detail: one job in detail (Enter on a job): its progress, the
 * block map, the throughput sparkline, what bad sectors hit, and its log. */
#include "common/units.h"
#include "ui/screen.h"
#include "ui/station.h"

#include <curses.h>
#include <stdio.h>

#define LOG_LINE_ROWS 8     /* the most rows one log line takes */

/* The block map as a grid of cells, each showing the worst state inside it. */
static void draw_map(struct qjob *j, int y, int rows, int cols)
{
    struct block_map snap = { 0 };
    if (!j->job || job_map_snapshot(j->job, &snap) != 0 || snap.size == 0) {
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

/* The newest log lines that fit in rows y..end-1, each wrapped whole, never cut. */
static void draw_log(const struct qjob *j, int y, int end)
{
    const char *starts[LOG_LINE_ROWS];
    int lens[LOG_LINE_ROWS], cols = COLS - 5 > 10 ? COLS - 5 : 10;
    int total = j->nlog < JQ_LOG_LINES ? j->nlog : JQ_LOG_LINES, first = j->nlog, need = 0;
    while (first > j->nlog - total) {
        int r = text_wrap(j->log[(first - 1) % JQ_LOG_LINES], cols, starts, lens, LOG_LINE_ROWS);
        if (need + r > end - y)
            break;
        need += r;
        first--;
    }
    for (int i = first; i < j->nlog; i++) {
        int r = text_wrap(j->log[i % JQ_LOG_LINES], cols, starts, lens, LOG_LINE_ROWS);
        for (int k = 0; k < r && y < end; k++)
            mvaddnstr(y++, k ? 4 : 2, starts[k], lens[k]);
    }
}

static void draw_detail(struct station *st)
{
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
        draw_job_progress(st, j, 2);
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
}

static void cancel(struct station *st)
{
    struct qjob *j = jq_find(&st->q, st->detail_id);
    if (j && (j->state == QJOB_QUEUED || j->state == QJOB_RUNNING))
        jq_cancel(&st->q, st->detail_id);
    else
        station_say(st, false, NULL, "job #%d has ended already: nothing to cancel", st->detail_id);
}

static void back(struct station *st)
{
    st->mode = MODE_MAIN;
}

static const struct key_binding detail_keys[] = {
    { KEY_F(8), 'c', "Cancel", "cancel this job", cancel },
    { 27, 0, "Back", "back to the main screen (so does any other key)", back },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

const struct screen detail_screen = {
    .name = "job detail",
    .draw = draw_detail,
    .key = screen_any_key_returns,      /* any key but F8 returns, as Esc does */
    .keys = detail_keys,
};
