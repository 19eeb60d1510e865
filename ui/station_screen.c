/* screen: keys dispatched from a screen's table, and its key bar and help
 * lines made from the same table. */
#include "ui/screen.h"
#include "ui/station.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#define BAR_ITEMS 24        /* key and label strings of one key bar, at most */

#define KEY_ESC 27

int screen_key_normal(int key)
{
    if (key == '\n' || key == KEY_ENTER)
        return '\r';
    if (key == 127 || key == 8)
        return KEY_BACKSPACE;
    return key;
}

const struct key_binding *screen_binding(const struct key_binding *keys, int key)
{
    for (const struct key_binding *b = keys; b && b->key; b++)
        if (b->key == key || (b->alt_key && b->alt_key == key))
            return b;
    return NULL;
}

void screen_dispatch(struct station *st, const struct screen *s, int key)
{
    key = screen_key_normal(key);
    const struct key_binding *b = screen_binding(s->keys, key);
    if (b) {
        b->action(st);
        return;
    }
    if (s->key && s->key(st, key))
        return;
    if (s->what_works)
        station_key_unused(st, key, s->what_works);
}

bool screen_any_key_returns(struct station *st, int key)
{
    (void)key;
    st->mode = MODE_MAIN;
    return true;
}

const char *screen_key_name(int key, char *buf, size_t len)
{
    static const struct { int key; const char *name; } names[] = {
        { '\r', "Enter" }, { KEY_ESC, "Esc" }, { ' ', "Space" }, { '\t', "Tab" }, { KEY_BACKSPACE, "Bksp" },
        { KEY_UP, "Up" }, { KEY_DOWN, "Down" }, { KEY_LEFT, "Left" }, { KEY_RIGHT, "Right" },
        { KEY_HOME, "Home" }, { KEY_END, "End" }, { KEY_PPAGE, "PgUp" }, { KEY_NPAGE, "PgDn" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].key == key)
            return names[i].name;
    if (key >= KEY_F(1) && key <= KEY_F(12))
        snprintf(buf, len, "F%d", key - KEY_F0);
    else if (key > ' ' && key < 127)
        snprintf(buf, len, "%c", key);
    else
        snprintf(buf, len, "%s", keyname(key) ? keyname(key) : "?");
    return buf;
}

void screen_help_line(const struct key_binding *b, char *buf, size_t len)
{
    char k1[16], k2[16], both[40];
    const char *first = screen_key_name(b->key, k1, sizeof(k1));
    if (b->alt_key)
        snprintf(both, sizeof(both), "%s, %s", first, screen_key_name(b->alt_key, k2, sizeof(k2)));
    else
        snprintf(both, sizeof(both), "%s", first);
    snprintf(buf, len, "  %-16s %s", both, b->help ? b->help : "");
}

void screen_key_bar(const struct station *st, const struct screen *s)
{
    const char *items[2 * BAR_ITEMS + 1];
    char names[BAR_ITEMS][16];
    size_t n = 0;
    for (const struct key_binding *b = s->keys; b && b->key && n < BAR_ITEMS; b++) {
        if (!b->label)
            continue;
        items[2 * n] = screen_key_name(b->key, names[n], sizeof(names[n]));
        items[2 * n + 1] = b->label;
        n++;
    }
    items[2 * n] = NULL;
    if (n)
        station_key_bar(st, items);
}
