/* station_net: "Receive from the network": mark the drives, confirm, and a
 * job joins the session in its own thread (see station_net.h). */
#include "ui/station_net.h"
#include "common/units.h"
#include "ui/screen.h"
#include "ui/station.h"

#include <curses.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_ESC 27

static struct station_net *net_of(struct station *st)
{
    if (!st->net && !(st->net = calloc(1, sizeof(*st->net))))
        return NULL;
    return st->net;
}

void station_net_next_interface(char *cur, size_t len)
{
    struct if_nameindex *all = if_nameindex(), *i;
    bool take = !cur[0];
    const char *next = "";
    for (i = all; i && i->if_index; i++) {
        if (!strcmp(i->if_name, "lo"))
            continue;
        if (take) {
            next = i->if_name;
            break;
        }
        take = !strcmp(i->if_name, cur);
    }
    snprintf(cur, len, "%s", next);
    if (all)
        if_freenameindex(all);
}

static bool picked(const struct station_net *n, const struct dev_drive *d)
{
    for (size_t i = 0; i < n->npicked; i++)
        if (dev_ident_matches(&n->picked[i], d, NULL, 0))
            return true;
    return false;
}

void net_printw(int y, int x, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (y >= 0)
        move(y, x);
    int room = COLS - getcurx(stdscr);
    if (room > 0)
        addnstr(text, room);
}

bool station_netbooted(void)
{
    char line[4096] = "";
    FILE *f = fopen("/proc/cmdline", "re");
    if (!f)
        return false;
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    for (char *save = NULL, *w = got ? strtok_r(line, " \n", &save) : NULL; w; w = strtok_r(NULL, " \n", &save))
        if (!strcmp(w, "clonebay.receive"))
            return true;
    return false;
}

/* udp-receiver takes the session's port: a second one on this machine could
 * only fail ("Address already in use"). true (and said) when one is active. */
static bool receiving(struct station *st)
{
    for (size_t i = 0; i < st->q.count; i++) {
        const struct qjob *j = st->q.jobs[i];
        if (j->req.join && (j->state == QJOB_QUEUED || j->state == QJOB_RUNNING)) {
            station_say(st, true, NULL, "job #%d receives from the network already: one receive at a time on a "
                        "station (mark every drive in one job, or cancel it first)", j->id);
            return true;
        }
    }
    return false;
}

void station_net_receive_start(struct station *st)
{
    if (receiving(st))
        return;
    struct station_net *n = net_of(st);
    if (!n) {
        station_say(st, true, NULL, "out of memory");
        return;
    }
    n->npicked = 0;
    n->cursor = 0;
    n->confirming = false;
    n->opts.dhcp = getenv("CLONEBAY_LIVE") != NULL;    /* the live system: its wired interfaces ask DHCP */
    st->mode = MODE_NET_RECEIVE;
}

/* Marks follow their drives: one pulled or replaced loses its mark, and the
 * confirmation goes back to the marks. */
static void follow_drives(struct station *st, struct station_net *n)
{
    size_t k = 0;
    for (size_t i = 0; i < n->npicked; i++) {
        if (dev_ident_find(&st->devs, &n->picked[i]))
            n->picked[k++] = n->picked[i];
        else
            station_say(st, true, NULL, "marked drive %s was removed or replaced: its mark was dropped",
                     n->picked[i].name);
    }
    if (k < n->npicked)
        n->confirming = false;
    n->npicked = k;
    if (n->cursor >= (int)st->devs.count)
        n->cursor = st->devs.count ? (int)st->devs.count - 1 : 0;
}

static void mark(struct station *st)
{
    struct station_net *n = st->net;
    if (n->confirming || n->cursor >= (int)st->devs.count)
        return;
    const struct dev_drive *d = &st->devs.drives[n->cursor];
    const char *why = station_drive_unwritable(d);   /* a drive too small: the job refuses it */
    for (size_t i = 0; i < n->npicked; i++)
        if (dev_ident_matches(&n->picked[i], d, NULL, 0)) {
            n->picked[i] = n->picked[--n->npicked];
            return;
        }
    if (why)
        station_say(st, true, NULL, "%s cannot be a target: %s", d->path, why);
    else if (n->npicked == JOB_MAX_TARGETS)
        station_say(st, true, NULL, "a job takes at most %d targets", JOB_MAX_TARGETS);
    else
        dev_ident_of(d, &n->picked[n->npicked++]);
}

static void next_interface(struct station *st)
{
    station_net_next_interface(st->net->opts.interface, sizeof(st->net->opts.interface));
}

static void next_wait(struct station *st)
{
    static const int waits[] = { 0, 60, 600, 3600 };
    int *w = &st->net->opts.wait_s;
    size_t i = 0;
    while (i < 4 && waits[i] != *w)
        i++;
    *w = waits[(i + 1) % 4];
}

static void go_on(struct station *st)
{
    struct station_net *n = st->net;
    if (!n->npicked)
        station_say(st, true, NULL, "mark at least one drive with Space");
    else
        n->confirming = true;
}

static void back(struct station *st)
{
    if (st->net->confirming)
        st->net->confirming = false;
    else
        st->mode = MODE_MAIN;
}

/* Y: the job is queued; its thread waits for the sender. */
static void start(struct station *st)
{
    struct station_net *n = st->net;
    if (!n->confirming) {
        go_on(st);
        return;
    }
    if (receiving(st))
        return;
    const char *targets[JOB_MAX_TARGETS];
    char paths[JOB_MAX_TARGETS][64];
    for (size_t i = 0; i < n->npicked; i++) {
        const struct dev_drive *d = dev_ident_find(&st->devs, &n->picked[i]);
        if (!d) {
            follow_drives(st, n);
            return;
        }
        snprintf(paths[i], sizeof(paths[i]), "%s", d->path);
        targets[i] = paths[i];
    }
    struct net_receive_opts **kept = realloc(n->kept, (size_t)(n->nkept + 1) * sizeof(*kept));
    struct net_receive_opts *o = malloc(sizeof(*o));
    if (kept)
        n->kept = kept;
    if (!kept || !o) {
        free(o);
        station_say(st, true, NULL, "out of memory");
        return;
    }
    *o = n->opts;
    n->kept[n->nkept++] = o;
    struct job_request req;
    net_receive_job_request(&req, o);
    req.targets = targets;
    req.ntargets = n->npicked;
    req.target_idents = n->picked;
    struct cb_error err = { 0 };
    int id = jq_submit(&st->q, &req, &err);
    if (id < 0) {
        station_say(st, true, NULL, "refused, nothing was written: %s", err.msg);
        station_rescan(st);
        return;
    }
    station_say(st, false, NULL, "job #%d waits for a sender on %s; nothing is written before the image's header "
                "is read and each drive passed the checks", id, o->interface[0] ? o->interface : "the network");
    st->mode = MODE_MAIN;
    st->focus_jobs = true;
    st->sel_job = (int)st->q.count - 1;
}

static bool other_key(struct station *st, int key)
{
    struct station_net *n = st->net;
    if (key == KEY_UP || key == 'k') {
        if (n->cursor > 0)
            n->cursor--;
    } else if (key == KEY_DOWN || key == 'j') {
        if (n->cursor + 1 < (int)st->devs.count)
            n->cursor++;
    } else if (key == KEY_HOME) {
        n->cursor = 0;
    } else if (key == KEY_END) {
        n->cursor = st->devs.count ? (int)st->devs.count - 1 : 0;
    } else {
        return false;
    }
    return true;
}

static void draw_drive(struct station *st, const struct dev_drive *d, int y, bool sel)
{
    char sz[32], line[512];
    const char *why = station_drive_unwritable(d);
    const char *model = d->model[0] ? d->model : d->kind == DEV_KIND_LOOP ? d->backing_file : "-";
    units_format_bytes(d->size, sz, sizeof(sz));
    snprintf(line, sizeof(line), " %s %-12s %-7s %10s  %-22.22s %-16.16s", picked(st->net, d) ? "[x]" : "[ ]",
             d->path, dev_kind_name(d->kind), sz, model, d->serial[0] ? d->serial : "-");
    if (sel)
        attron(A_REVERSE);
    mvaddnstr(y, 0, line, COLS);
    if (why)
        net_printw(-1, -1, "  can't: %s", why);
    if (sel)
        attroff(A_REVERSE);
}

static void draw_confirm(struct station *st, int y)
{
    struct station_net *n = st->net;
    ui_color_on(st, UI_COLOR_WARNING);
    net_printw(y++, 2, "%s", "EVERYTHING ON THESE DRIVES WILL BE OVERWRITTEN by the image the sender streams:");
    ui_color_off(st, UI_COLOR_WARNING);
    for (size_t i = 0; i < n->npicked && y < LINES - 5; i++) {
        const struct dev_drive *d = dev_ident_find(&st->devs, &n->picked[i]);
        if (!d)
            continue;
        char sz[32], what[512];
        units_format_bytes(d->size, sz, sizeof(sz));
        job_drive_contents(d, what, sizeof(what));
        net_printw(y++, 4, "%s  %s  serial %s  %s", d->path, d->model[0] ? d->model : d->backing_file,
                 d->serial[0] ? d->serial : "-", sz);
        net_printw(y++, 8, "holds: %s", what);
    }
    attron(A_BOLD);
    draw_text_block(st, "Press Y to start: the job waits for a sender; it writes only after the session started "
                    "and each drive passed the checks (size, identity). Esc goes back.", y + 1, LINES - 3, 2, false);
    attroff(A_BOLD);
}

static void draw_receive(struct station *st)
{
    struct station_net *n = st->net;
    follow_drives(st, n);
    attron(A_BOLD);
    net_printw(1, 0, "%s", "Receive from the network: a sender's image onto the marked drives");
    attroff(A_BOLD);
    char addr[32] = "";
    if (n->opts.interface[0])
        net_printw(2, 2, "f  interface  %s", n->opts.interface);
    else if (net_first_interface(addr, sizeof(addr)))
        net_printw(2, 2, "f  interface  automatic (now %s)", addr);
    else
        net_printw(2, 2, "f  interface  automatic (none has an address yet)");
    if (n->opts.dhcp)
        net_printw(-1, -1, ", DHCP first");
    if (n->opts.wait_s)
        net_printw(3, 2, "w  wait       give up when no sender starts within %d s", n->opts.wait_s);
    else
        net_printw(3, 2, "w  wait       until a sender starts (F8 on the job cancels)");
    if (n->confirming) {
        draw_confirm(st, 5);
    } else {
        for (int i = 0; i < (int)st->devs.count && 5 + i < LINES - 3; i++)
            draw_drive(st, &st->devs.drives[i], 5 + i, i == n->cursor);
    }
}

static const struct key_binding receive_keys[] = {
    { ' ', 0, "Mark", "mark or unmark the chosen drive as a target", mark },
    { '\r', 0, "Next", "confirm the marked drives", go_on },
    { 'y', 'Y', "Start", "on the confirmation: queue the job; it waits for the sender", start },
    { 'f', 0, "Interface", "the network interface: automatic, or each one of this machine", next_interface },
    { 'w', 0, "Wait", "how long the job waits for a sender: until cancelled, 60 s, 10 min, 1 h", next_wait },
    { KEY_ESC, 'q', "Back", "back (to the marks, then to the main screen)", back },
    { KEY_F(1), '?', NULL, "this help", station_help },
    { 0 },
};

static const char *const receive_notes[] = {
    "Receive from the network: the PCs of a room each run this, one station runs Send.",
    "Nothing is written before Y; then the job joins the session, reads the image's header",
    "and checks each drive (large enough, still the drive that was marked) before its",
    "first write; every frame's checksum, the image's sha256 and a read-back verify it.",
    NULL,
};

const struct screen net_receive_screen = {
    .name = "receive",
    .draw = draw_receive,
    .key = other_key,
    .keys = receive_keys,
    .what_works = "Space marks a drive, Enter confirms, Esc goes back",
    .notes = receive_notes,
};
