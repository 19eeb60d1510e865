/* station_help: the help screen, made from the key table of the screen it
 * was opened from (its keys, one a line, then that screen's notes); any key
 * goes back to that screen. */
#include "ui/screen.h"
#include "ui/station.h"

#include <curses.h>

static void draw_help(struct station *st)
{
    const struct screen *of = st->help_for ? st->help_for : &main_screen;
    int y = 2, end = LINES;
    mvprintw(y++, 2, "clonebay station - keys%s%s", of == &main_screen ? "" : ": ", of == &main_screen ? "" : of->name);
    y++;
    for (const struct key_binding *b = of->keys; b && b->key && y < end; b++) {
        char line[256];
        if (!b->help)
            continue;       /* an alias kept for old habits: not listed */
        screen_help_line(b, line, sizeof(line));
        mvaddnstr(y++, 2, line, COLS - 2);
    }
    y++;
    for (const char *const *n = of->notes; n && *n && y < end - 2; n++)
        mvaddnstr(y++, 2, *n, COLS - 2);
    if (y + 1 < end)
        mvaddnstr(y + 1, 2, "Any key returns.", COLS - 2);
}

void station_help(struct station *st)
{
    st->help_for = station_screen(st);
    st->help_return = st->mode;
    st->mode = MODE_HELP;
}

static bool back(struct station *st, int key)
{
    (void)key;
    st->mode = st->help_return;
    st->help_return = MODE_MAIN;    /* a help opened without station_help returns to the main screen */
    return true;
}

const struct screen help_screen = {
    .name = "help",
    .draw = draw_help,
    .key = back,
};
