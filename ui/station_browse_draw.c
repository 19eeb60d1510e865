/* station_browse_draw: the "Browse image" screens: the images in the store,
 * an image's partitions, a partition's files with their marks, and the copy's
 * progress or its report, each line whole (what does not fit is in jobs.log). */
#include "common/units.h"
#include "jobs/job_log.h"
#include "ui/station_browse.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

/* Rows y..end-1 show the list from b->top, the cursor kept in view. */
static void keep_in_view(struct browse_view *b, int rows)
{
    if (b->cursor < b->top)
        b->top = b->cursor;
    if (rows > 0 && b->cursor >= b->top + rows)
        b->top = b->cursor - rows + 1;
}

static void row(int y, bool sel, const char *text)
{
    if (sel)
        attron(A_REVERSE);
    mvaddstr(y, 0, sel ? "> " : "  ");
    addnstr(text, COLS - 2 > 0 ? COLS - 2 : 0);
    if (sel)
        attroff(A_REVERSE);
}

/* The partitions, each with why it cannot be opened wrapped whole under it. */
static void draw_parts(struct station *st, int y, int end)
{
    struct browse_view *b = st->browse;
    char line[300];
    for (int i = 0; i < (int)b->m.nparts && y < end; i++) {
        const struct mounted_part *p = &b->m.parts[i];
        bv_part_words(p, line, sizeof(line));
        if (p->mounted)
            snprintf(line + strlen(line), sizeof(line) - strlen(line), " files: Enter (%s)", p->how);
        row(y++, i == b->cursor, line);
        int r = p->mounted ? 0 : draw_text_block(st, p->note, y, end, 6, true);
        y += r > 0 ? r : 0;
    }
}

static void draw_rows(struct station *st, int y, int end)
{
    struct browse_view *b = st->browse;
    if (b->step == BV_PARTS) {
        draw_parts(st, y, end);
        return;
    }
    int n = bv_count(b);
    keep_in_view(b, end - y);
    char line[1200], sz[32];
    for (int i = b->top; i < n && y < end; i++, y++) {
        if (b->step == BV_IMAGES) {
            snprintf(line, sizeof(line), "%s", b->images[i]);
        } else {
            const struct browse_entry *e = &b->entries[i];
            char rel[4096];
            bv_entry_rel(b, e, rel, sizeof(rel));
            if (e->kind == BROWSE_FILE)
                units_format_bytes(e->size, sz, sizeof(sz));
            snprintf(line, sizeof(line), "[%c] %-40s %12s", bv_marked(b, rel) ? 'x' : ' ', e->name,
                     e->kind == BROWSE_DIR ? "folder" : e->kind == BROWSE_LINK ? "link" : e->kind == BROWSE_FILE
                     ? sz : "special");
            if (e->kind == BROWSE_DIR)
                line[4 + strlen(e->name)] = '/';
        }
        row(y, i == b->cursor, line);
    }
}

/* The copy's progress, or its report: the summary and each failure whole;
 * what does not fit is in jobs.log, and the last row says so. */
static void draw_report(struct station *st, int y, int end)
{
    struct browse_view *b = st->browse;
    if (b->copy) {
        const struct browse_progress *p = browse_copy_progress(b->copy);
        char d[32], t[32];
        units_format_bytes(atomic_load(&p->bytes_done), d, sizeof(d));
        units_format_bytes(atomic_load(&p->bytes_total), t, sizeof(t));
        attron(A_BOLD);
        mvprintw(y, 0, "Copying to %s: %zu of %zu files, %s of %s (x stops it)", b->dest,
                 atomic_load(&p->files_done), atomic_load(&p->files_total), d, t);
        attroff(A_BOLD);
        return;
    }
    for (size_t i = 0; i < b->nreport; i++) {
        bool more = i + 1 < b->nreport;       /* a row kept to say where the rest is */
        int r = draw_text_block(st, b->report[i], y, more ? end - 1 : end, i ? 2 : 0, b->report_bad && i);
        if (r < 0) {
            char logp[4200];
            job_log_path(st->q.reports_dir, logp, sizeof(logp));
            if (y < end)
                mvprintw(y, 2, "... %zu more not shown here: every one is in %s", b->nreport - i, logp);
            return;
        }
        y += r;
    }
}

void draw_browse(struct station *st)
{
    struct browse_view *b = st->browse;
    if (!b)
        return;
    int end = LINES - 3;
    if (b->nreport || b->copy)
        end = LINES - 2 - (LINES - 4) / 3;
    attron(A_BOLD);
    if (b->step == BV_IMAGES) {
        mvprintw(1, 0, "Browse an image, read-only: the images in %s", b->folder);
        attroff(A_BOLD);
        if (b->nimages == 0)
            mvprintw(3, 2, "No image (.zst, .img) in %s. s chooses the store.", b->folder);
        if (b->opening)
            mvprintw(2, 0, "Opening %s read-only...", b->image);
        draw_rows(st, 3, end);
        return;
    }
    char sz[32];
    mvprintw(1, 0, "Browse %s (read-only, %s of disk on %s)", b->image, units_format_bytes(b->m.disk_size, sz,
             sizeof(sz)), b->m.loop);
    attroff(A_BOLD);
    if (b->step == BV_PARTS) {
        mvaddstr(2, 0, "Partitions:");
        draw_rows(st, 3, end);
    } else {
        char words[200];
        mvprintw(2, 0, "Partition %s  /%s   (%zu marked)", bv_part_words(&b->m.parts[b->part], words, sizeof(words)),
                 b->rel, b->npicks);
        if (b->nentries == 0)
            mvaddstr(3, 2, "(empty folder)");
        draw_rows(st, 3, end - 1);
        char dest[4300];
        browse_dest_folder(b->folder, b->image, dest, sizeof(dest));
        mvprintw(end - 1, 0, "c copies what is marked to %s", dest);
        if (b->folder_volatile)
            addnstr(" - in RAM, lost at power-off (s on the main screen keeps them on a drive)",
                    COLS - getcurx(stdscr) > 0 ? COLS - getcurx(stdscr) : 0);
    }
    draw_report(st, end + 1, LINES - 1);
}
