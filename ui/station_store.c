/* station_store: the "s" dialog. The technician picks a partition of a
 * connected drive; it is mounted under /mnt/<label>, reports go to its
 * clonebay-reports folder (with those already written in RAM), and new images
 * default to it. On the live ISO the RAM disk is lost at power-off. */
#include "common/units.h"
#include "ui/screen.h"
#include "ui/station.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#define STORE_ROOT "/mnt"

void store_start(struct station *st)
{
    st->nstores = store_candidates(&st->devs, st->stores, sizeof(st->stores) / sizeof(st->stores[0]));
    st->store_cursor = 0;
    st->mode = MODE_STORE;
}

static void choose(struct station *st, const struct store_choice *c)
{
    char dir[256], reports[4096];
    struct cb_error err = { 0 };
    if (store_mount(c, STORE_ROOT, dir, sizeof(dir), &err) != 0) {
        station_say(st, true, NULL, "%s", err.msg);
        return;
    }
    snprintf(reports, sizeof(reports), "%s/clonebay-reports", dir);
    int moved = st->reports_volatile ? store_copy_files(st->q.reports_dir, reports) : 0;
    snprintf(st->q.reports_dir, sizeof(st->q.reports_dir), "%s", reports);
    snprintf(st->store_dir, sizeof(st->store_dir), "%s", dir);
    st->reports_volatile = store_is_volatile(reports);
    station_say(st, false, NULL, "images and reports now go to %s (%s)%s", dir, c->dev,
             moved ? ": the reports so far were copied there" : "");
    station_rescan(st);     /* the drive now shows MOUNTED */
}

/* The "s" dialog: the filesystems that can keep images and reports. */
static void draw_store(struct station *st)
{
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
}

static void up(struct station *st)
{
    if (st->store_cursor > 0)
        st->store_cursor--;
}

static void down(struct station *st)
{
    if (st->store_cursor + 1 < (int)st->nstores)
        st->store_cursor++;
}

static void use_it(struct station *st)
{
    st->mode = MODE_MAIN;
    if (st->store_cursor < (int)st->nstores)
        choose(st, &st->stores[st->store_cursor]);
}

static void back(struct station *st)
{
    st->mode = MODE_MAIN;
}

static const struct key_binding store_keys[] = {
    { KEY_UP, 'k', NULL, "the partition above", up },
    { KEY_DOWN, 'j', NULL, "the partition below", down },
    { '\r', 0, "Use it", "mount it under " STORE_ROOT ": images and reports go there", use_it },
    { 27, 'q', "Back", "back to the main screen, nothing changed", back },
    { KEY_F(10), 0, NULL, NULL, back },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

const struct screen store_screen = {
    .name = "store",
    .draw = draw_store,
    .keys = store_keys,
    .what_works = "Up/Down choose, Enter uses the partition, Esc goes back",
};
