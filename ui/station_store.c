/* station_store: the "s" dialog. The technician picks a partition of a
 * connected drive; it is mounted under /mnt/<label>, reports go to its
 * clonebay-reports folder (with those already written in RAM), and new images
 * default to it. On the live ISO the RAM disk is lost at power-off. */
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

void store_key(struct station *st, int key)
{
    switch (key) {
    case KEY_UP: case 'k':
        if (st->store_cursor > 0)
            st->store_cursor--;
        break;
    case KEY_DOWN: case 'j':
        if (st->store_cursor + 1 < (int)st->nstores)
            st->store_cursor++;
        break;
    case '\n': case '\r': case KEY_ENTER:
        st->mode = MODE_MAIN;
        if (st->store_cursor < (int)st->nstores)
            choose(st, &st->stores[st->store_cursor]);
        break;
    case 27: case 'q': case KEY_F(10):
        st->mode = MODE_MAIN;
        break;
    default:
        station_key_unused(st, key, "Up/Down choose, Enter uses the partition, Esc goes back");
        break;
    }
}
