/* station_drive: one drive in full (i on the main screen). The drive is kept
 * by its identity, so a re-sort or a hot-plug never shows another drive under
 * the title; a drive pulled meanwhile says so. */
#include "ui/station.h"
#include "common/units.h"
#include "devices/dev_health.h"
#include "jobs/job_run.h"
#include "ui/screen.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>

const char *station_drive_unwritable(const struct dev_drive *d)
{
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
    return NULL;
}

/* A SMART figure, or what the drive did not say. */
static void figure(int *row, const char *name, int64_t v, const char *unit)
{
    if (v == DEV_HEALTH_NONE)
        mvprintw((*row)++, 2, "%-26s not reported", name);
    else
        mvprintw((*row)++, 2, "%-26s %" PRId64 "%s", name, v, unit);
}

static void draw_drive(struct station *st)
{
    const struct dev_drive *d = dev_ident_find(&st->devs, &st->drive_shown);
    int row = 0;
    attron(A_BOLD);
    mvprintw(row++, 0, "Drive in full");
    attroff(A_BOLD);
    row++;
    if (!d) {
        mvprintw(row++, 2, "%s (%s, serial %s) was removed.", st->drive_shown.name, st->drive_shown.model,
                 st->drive_shown.serial[0] ? st->drive_shown.serial : "-");
        mvprintw(LINES - 1, 0, "Any key returns.");
        return;
    }
    char sz[32], contents[512], hidden[160];
    units_format_bytes(d->size, sz, sizeof(sz));
    mvprintw(row++, 2, "%-26s %s", "device", d->path);
    mvprintw(row++, 2, "%-26s %s%s%s", "model", d->vendor, d->vendor[0] ? " " : "", d->model);
    mvprintw(row++, 2, "%-26s %s", "serial", d->serial[0] ? d->serial : "-");
    if (d->wwn[0])
        mvprintw(row++, 2, "%-26s %s", "WWN", d->wwn);
    mvprintw(row++, 2, "%-26s %s (%" PRIu64 " bytes)", "size", sz, d->size);
    mvprintw(row++, 2, "%-26s %s on %s%s%s", "kind", dev_kind_name(d->kind), dev_bus_name(d->bus),
             d->removable ? ", removable" : "", d->readonly ? ", read-only" : "");
    mvprintw(row++, 2, "%-26s %u / %u bytes", "sectors (logical/physical)", d->logical_sector, d->physical_sector);
    job_drive_contents(d, contents, sizeof(contents));
    mvprintw(row++, 2, "%-26s %.*s", "holds", COLS > 32 ? COLS - 32 : 0, contents);
    if (d->system || d->mounted || d->busy)
        mvprintw(row++, 2, "%-26s %.*s", "not writable now", COLS > 32 ? COLS - 32 : 0,
                 d->system ? d->system_why : d->mounted ? d->mounted_why : d->busy_why);
    row++;
    struct dev_health h;
    dev_health_unknown(&h, "not read yet");
    if (st->health)
        dev_health_cache_get(st->health, d, &h);
    attron(A_BOLD);
    mvprintw(row++, 2, "%-26s %s", "health (SMART)", dev_health_word(h.state));
    attroff(A_BOLD);
    if (h.why[0])
        mvprintw(row++, 4, "%.*s", COLS > 6 ? COLS - 6 : 0, h.why);
    mvprintw(row++, 2, "%-26s %s", "overall verdict", h.verdict == 1 ? "PASSED" : h.verdict == 0 ? "FAILED" : "none");
    figure(&row, "power-on hours", h.power_on_hours, "");
    figure(&row, "reallocated sectors", h.reallocated, "");
    figure(&row, "pending sectors", h.pending, "");
    figure(&row, "uncorrectable sectors", h.uncorrectable, "");
    figure(&row, "media errors (NVMe)", h.media_errors, "");
    figure(&row, "percentage used", h.percentage_used, " %");
    figure(&row, "temperature", h.temperature, " C");
    dev_health_hidden_text(&h, hidden, sizeof(hidden));
    mvprintw(row++, 2, "%-26s %s", "hidden areas (HPA/DCO)", hidden[0] ? hidden : "none found, or not an ATA drive");
    mvprintw(LINES - 1, 0, "Any key returns.");
}

/* No key table: any key returns. */
const struct screen drive_screen = {
    .name = "drive in full",
    .draw = draw_drive,
    .key = screen_any_key_returns,
};
