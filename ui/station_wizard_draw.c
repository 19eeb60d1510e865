/* station_wizard_draw: the new-job wizard's steps on the screen (their keys
 * and key bars: station_wizard_keys.c). */
#include "common/units.h"
#include "ui/station.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

static void wiz_drive_list(struct station *st, int y, bool targets)
{
    for (int i = 0; i < (int)st->devs.count && y < LINES - 3; i++) {
        const struct dev_drive *d = &st->devs.drives[i];
        char sz[32], line[512];
        units_format_bytes(d->size, sz, sizeof(sz));
        const char *why = targets ? wizard_unpickable(st, d) : NULL;
        snprintf(line, sizeof(line), " %s %-12s %-7s %10s  %-22.22s %-16.16s", targets ? (wizard_picked(&st->wiz, d) ? "[x]" : "[ ]") : "  ",
                 d->path, dev_kind_name(d->kind), sz, drive_model_of(d), d->serial[0] ? d->serial : "-");
        bool sel = i == st->wiz.cursor;
        if (sel)
            attron(A_REVERSE);
        if (why)
            attron(A_DIM);
        mvaddnstr(y, 0, line, COLS);
        if (why) {
            attroff(A_DIM);
            draw_color_on(st, C_BAD);
            printw("  can't: %s", why);
            draw_color_off(st, C_BAD);
        } else if (targets && d->size < st->wiz.source_size) {
            draw_color_on(st, C_WARN);
            printw("  smaller (fitted)");
            draw_color_off(st, C_WARN);
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
        draw_color_on(st, C_BAD);
        mvaddnstr(y++, 2, "This job would be refused:", COLS - 2);
        for (size_t off = 0, len = strlen(refusal); off < len && y < LINES - 4; off += (size_t)(COLS - 4))
            mvaddnstr(y++, 4, refusal + off, COLS - 4);
        draw_color_off(st, C_BAD);
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

void wizard_draw(struct station *st)
{
    struct wizard *w = &st->wiz;
    attron(A_BOLD);
    switch (w->step) {
    case WIZ_SOURCE:
        mvaddstr(1, 0, "New job, step 1 of 4: the SOURCE drive (read only)");
        attroff(A_BOLD);
        wiz_drive_list(st, 3, false);
        break;
    case WIZ_TARGETS:
        mvprintw(1, 0, "New job, step 2 of 4: the TARGETS for %s (Space marks; every marked drive is overwritten)",
                 w->source);
        attroff(A_BOLD);
        wiz_drive_list(st, 3, true);
        break;
    case WIZ_PATH:
        mvaddstr(1, 0, w->path_for_restore ? "Restore: the image file to write to drives"
                                           : "Image: the file to save the source in (.zst is added)");
        attroff(A_BOLD);
        mvprintw(3, 2, "file: %s_", w->path);
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
            mvprintw(y++, 2, "m  mode         %s", w->mode == COPY_USED ? "used: only the blocks the filesystems use"
                     : w->mode == COPY_RAW ? "raw: every sector" : "auto: used when every partition is understood");
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
            draw_color_on(st, C_WARN);
            mvaddstr(y++, 2, "EVERYTHING ON THESE DRIVES WILL BE OVERWRITTEN:");
            draw_color_off(st, C_WARN);
            for (size_t i = 0; i < w->npicked && y < LINES - 4; i++) {
                const struct dev_drive *d = dev_ident_find(&st->devs, &w->picked[i]);
                if (!d)
                    continue;
                char sz[32], what[512];
                units_format_bytes(d->size, sz, sizeof(sz));
                job_drive_contents(d, what, sizeof(what));
                mvprintw(y++, 4, "%s  %s  serial %s  %s", d->path, drive_model_of(d),
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
        break;
    }
    }
    attroff(A_BOLD);
    /* w->error is drawn whole by station_draw, like every screen's message. */
}
