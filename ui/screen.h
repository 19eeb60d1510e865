/* screen: one struct per station screen and one key table per screen, as
 * htop keeps them. The table is the only place a key is written: the key is
 * dispatched from it, the key bar on the last row is drawn from it and the
 * help lines are made from it, so the three cannot disagree.
 *
 * What stays outside a table, in the screen's own key function: typing
 * (the wizard's file name), cursor movement that needs the key itself
 * (Up/Down/Home/End/PgUp/PgDn move one list the same way on every screen),
 * "any key returns" screens, and the mouse (station.c: a click is a place,
 * not a key). The types only: the station runs them (ui/station_screen.c),
 * so this header and the station's do not include each other. */
#ifndef CB_UI_SCREEN_H
#define CB_UI_SCREEN_H

#include <stdbool.h>
#include <stddef.h>

struct station;

struct key_binding {
    int key;                        /* as getch() gives it; Enter is '\r', Backspace KEY_BACKSPACE */
    int alt_key;                    /* another key that does the same (0: none) */
    const char *label;              /* in the key bar after the key's name; NULL: not in the bar */
    const char *help;               /* its line in the help; NULL: not in the help (an alias) */
    void (*action)(struct station *st);
};

struct screen {
    const char *name;
    void (*draw)(struct station *st);
    /* Keys the table does not hold; true: taken. Asked after the table. */
    bool (*key)(struct station *st, int key);
    const struct key_binding *keys; /* ends with an entry whose key is 0 */
    const char *what_works;         /* said when a key does nothing here ("F1 lists the keys") */
    const char *const *notes;       /* the help's lines after the keys, NULL-ended; may be NULL */
    /* A screen in steps (the wizard, browse): the step showing now; NULL: itself. */
    const struct screen *(*current)(const struct station *st);
};

/* Enter and Backspace as the tables write them, whatever the terminal sent. */
int screen_key_normal(int key);
/* The binding for key in the table, or NULL. */
const struct key_binding *screen_binding(const struct key_binding *keys, int key);
/* One key to a screen: its table, then its key function, else "does nothing here". */
void screen_dispatch(struct station *st, const struct screen *s, int key);
/* "F5", "Enter", "Esc", "Space", "Up", "q": a key's name in the bar and the help. */
const char *screen_key_name(int key, char *buf, size_t len);
/* The help line of one binding: "  F5, r            list the drives again". */
void screen_help_line(const struct key_binding *b, char *buf, size_t len);
/* A screen's key function for "any key returns" to the main screen. */
bool screen_any_key_returns(struct station *st, int key);
/* The key bar of s on the last row: each labelled binding, in table order. */
void screen_key_bar(const struct station *st, const struct screen *s);

#endif
