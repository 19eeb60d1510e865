/* station_net_send: "Send image to the network": the image, `clonebay send`'s
 * options, then the receivers panel, live (see station_net.h). The session
 * is udp-sender beside the station, read without blocking each loop turn. */
#include "common/safe_file.h"
#include "common/units.h"
#include "ui/screen.h"
#include "ui/station.h"
#include "ui/station_net.h"

#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define KEY_ESC 27

static const char *const rates[] = { NULL, "10m", "100m", "500m" };
#define NRATES (sizeof(rates) / sizeof(rates[0]))

void station_net_send_start(struct station *st)
{
    if (!st->net && !(st->net = calloc(1, sizeof(*st->net)))) {
        station_say(st, true, NULL, "out of memory");
        return;
    }
    struct station_net *n = st->net;
    if (n->send_step != NSEND_RUNNING && n->send_step != NSEND_ENDED) {
        n->send_step = NSEND_PATH;
        if (!n->path[0])
            snprintf(n->path, sizeof(n->path), "%s/", station_image_folder(st));
        if (n->clients < 1)
            n->clients = 1;
    }
    st->mode = MODE_NET_SEND;
}

static struct net_send_request request_of(const struct station_net *n)
{
    return (struct net_send_request){
        .image = n->path, .clients = n->clients, .wait_s = n->wait_s, .max_bitrate = rates[n->bitrate],
        .interface = n->interface[0] ? n->interface : NULL,
    };
}

/* Enter on the file: refused at once when it is not an image to send. */
static void path_done(struct station *st)
{
    struct station_net *n = st->net;
    struct net_send_request req = request_of(n);
    struct cb_error err = { 0 };
    if (net_send_prepare(&n->send, &req, &err))
        station_say(st, true, NULL, "%s", err.msg);
    else
        n->send_step = NSEND_OPTIONS;
}

static void to_main(struct station *st)
{
    st->mode = MODE_MAIN;
}

static void to_path(struct station *st)
{
    st->net->send_step = NSEND_PATH;
}

static bool type_path(struct station *st, int key)
{
    struct station_net *n = st->net;
    size_t len = strlen(n->path);
    if (key == KEY_BACKSPACE && len > 0)
        n->path[len - 1] = '\0';
    else if (key >= 32 && key < 127 && len + 1 < sizeof(n->path))
        n->path[len] = (char)key, n->path[len + 1] = '\0';
    else
        return false;
    return true;
}

static void more_clients(struct station *st)
{
    if (st->net->clients < NET_MAX_RECEIVERS)
        st->net->clients++;
}

static void fewer_clients(struct station *st)
{
    if (st->net->clients > 1)
        st->net->clients--;
}

static void next_wait(struct station *st)
{
    static const int waits[] = { 0, 30, 60, 300 };
    size_t i = 0;
    while (i < 4 && waits[i] != st->net->wait_s)
        i++;
    st->net->wait_s = waits[(i + 1) % 4];
}

static void next_rate(struct station *st)
{
    st->net->bitrate = (st->net->bitrate + 1) % (int)NRATES;
}

static void next_interface(struct station *st)
{
    station_net_next_interface(st->net->interface, sizeof(st->net->interface));
}

static void start_session(struct station *st)
{
    struct station_net *n = st->net;
    struct net_send_request req = request_of(n);
    struct cb_error err = { 0 };
    if (net_send_prepare(&n->send, &req, &err) || net_send_start(&n->send, &req, &err)) {
        station_say(st, true, NULL, "refused, nothing was sent: %s", err.msg);
        return;
    }
    n->send_report[0] = '\0';
    n->send_step = NSEND_RUNNING;
}

static void cancel_session(struct station *st)
{
    struct station_net *n = st->net;
    if (n->send_step != NSEND_RUNNING) {
        station_say(st, false, NULL, "no session is sending: nothing to cancel");
        return;
    }
    net_send_cancel(&n->send);
    station_net_tick(st);
}

/* After a session: Enter starts the next one (the same image and options). */
static void next_session(struct station *st)
{
    if (st->net->send_step == NSEND_ENDED)
        st->net->send_step = NSEND_OPTIONS;
}

/* The reports beside the job reports: STAMP-send.txt and .json. */
static void write_report(struct station *st, struct station_net *n)
{
    char stamp[32], txt[4200], js[4200];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    mkdir(st->q.reports_dir, 0755);
    snprintf(txt, sizeof(txt), "%s/%s-send.txt", st->q.reports_dir, stamp);
    snprintf(js, sizeof(js), "%s/%s-send.json", st->q.reports_dir, stamp);
    struct cb_error err = { 0 };
    FILE *f = safe_file_fcreate(txt, 0644);
    if (!f || net_send_report_json(&n->send, CLONEBAY_VERSION, js, &err)) {
        station_say(st, true, NULL, "cannot write the send report in %s: %s", st->q.reports_dir,
                    err.msg[0] ? err.msg : strerror(errno));
    } else {
        snprintf(n->send_report, sizeof(n->send_report), "%s", txt);
    }
    if (f) {
        net_send_report_text(&n->send, CLONEBAY_VERSION, f);
        fclose(f);
    }
}

void station_net_tick(struct station *st)
{
    struct station_net *n = st->net;
    if (!n || n->send_step != NSEND_RUNNING)
        return;
    st->dirty = true;
    if (!net_send_pump(&n->send) && !n->send.cancelled)
        return;
    n->send_step = NSEND_ENDED;
    write_report(st, n);
    bool all = n->send.complete && n->send.nrx > 0 && net_send_finished(&n->send) == n->send.nrx;
    char said[600];
    net_send_said(&n->send, said, sizeof(said));
    station_say(st, !all, NULL, "send: %s: %d of %d receivers got the whole image%s%s%s%s",
                n->send.cancelled ? "cancelled" : all ? "done" : "FAILED", net_send_finished(&n->send), n->send.nrx,
                !n->send.complete && said[0] ? "; udp-sender said: " : "", !n->send.complete ? said : "",
                n->send_report[0] ? "; report: " : "", n->send_report);
}

void station_net_end(struct station *st)
{
    struct station_net *n = st->net;
    if (!n)
        return;
    if (n->send_step == NSEND_RUNNING) {
        net_send_cancel(&n->send);
        station_net_tick(st);
    }
    for (int i = 0; i < n->nkept; i++)
        free(n->kept[i]);
    free(n->kept);
    free(n);
    st->net = NULL;
}

static void draw_options(const struct station *st, const struct station_net *n, int y)
{
    char sz[32], disk[32];
    net_printw(y++, 2, "image        %s  (%s, a disk of %s)", n->send.image,
             units_format_bytes(n->send.image_bytes, sz, sizeof(sz)),
             units_format_bytes(n->send.disk_bytes, disk, sizeof(disk)));
    net_printw(y++, 2, "+/-  clients   start once %d receiver%s joined", n->clients, n->clients > 1 ? "s" : "");
    if (n->wait_s)
        net_printw(y++, 2, "w    wait      or %d s after the first joined, with those there", n->wait_s);
    else
        net_printw(y++, 2, "w    wait      no: only once that many joined");
    net_printw(y++, 2, "b    bitrate   %s", rates[n->bitrate] ? rates[n->bitrate] : "no limit");
    net_printw(y++, 2, "f    interface %s", n->interface[0] ? n->interface : "udp-sender's default");
    attron(A_BOLD);
    draw_text_block(st, "Enter starts the session: every PC running 'Receive from the network' (or 'clonebay "
                    "receive') gets the image at once.", y + 1, LINES - 3, 2, false);
    attroff(A_BOLD);
}

static void draw_session(const struct station *st, const struct station_net *n, int y)
{
    const struct net_send *s = &n->send;
    char a[32], b[32], r[32];
    units_format_bytes(s->bytes_sent, a, sizeof(a));
    units_format_bytes(s->image_bytes, b, sizeof(b));
    units_format_bytes((uint64_t)net_send_rate(s), r, sizeof(r));
    net_printw(y++, 2, "image     %s", s->image);
    if (n->send_step == NSEND_ENDED)
        net_printw(y++, 2, "session   ended: %s of %s sent, %s/s; %d of %d receivers finished", a, b, r,
                 net_send_finished(s), s->nrx);
    else if (s->started)
        net_printw(y++, 2, "session   sending: %s of %s  %s/s  %llu blocks sent again", a, b, r,
                 (unsigned long long)s->retransmits);
    else
        net_printw(y++, 2, "session   waiting for receivers: %d of %d joined%s", s->nrx, n->clients,
                 n->wait_s ? " (or the wait)" : "");
    y++;
    attron(A_BOLD);
    net_printw(y++, 2, "Receivers (%d)", s->nrx);
    attroff(A_BOLD);
    for (int i = 0; i < s->nrx && y < LINES - 4; i++) {
        const struct net_receiver *x = &s->rx[i];
        enum ui_color c = x->state == NET_RX_FINISHED ? UI_COLOR_VERIFIED
                        : x->state == NET_RX_DROPPED || x->state == NET_RX_LEFT ? UI_COLOR_FAILED : UI_COLOR_BUSY;
        net_printw(y, 4, "%-18s ", x->addr);
        ui_color_on(st, c);
        net_printw(-1, -1, "%-10s", net_rx_state_name(x->state));
        ui_color_off(st, c);
        net_printw(-1, -1, "  joined %.1f s after the start", x->joined_at);
        if (x->state == NET_RX_DROPPED || x->state == NET_RX_LEFT)
            net_printw(-1, -1, ", ended %.1f s into the session after %s", x->ended_at - s->started_at,
                   units_format_bytes(x->ended_bytes, a, sizeof(a)));
        y++;
    }
    if (s->nsaid && y < LINES - 3)
        net_printw(y + 1, 2, "udp-sender: %.*s", COLS - 16, s->said[s->nsaid - 1]);
}

static void draw_send(struct station *st)
{
    struct station_net *n = st->net;
    attron(A_BOLD);
    net_printw(1, 0, "%s", "Send image to the network: one image to every PC of the room at once (udpcast)");
    attroff(A_BOLD);
    switch (n->send_step) {
    case NSEND_PATH:
        net_printw(3, 2, "image file: %s_", n->path);
        break;
    case NSEND_OPTIONS:
        draw_options(st, n, 3);
        break;
    default:
        draw_session(st, n, 3);
        break;
    }
}

static const struct key_binding path_keys[] = {
    { '\r', 0, "OK", "take the image file", path_done },
    { KEY_ESC, 0, "Back", "back to the main screen", to_main },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

static const struct key_binding options_keys[] = {
    { '+', 0, "More", "start once one more receiver joined", more_clients },
    { '-', 0, "Fewer", "start once one fewer receiver joined", fewer_clients },
    { 'w', 0, "Wait", "or start this long after the first joined: no, 30 s, 60 s, 5 min", next_wait },
    { 'b', 0, "Bitrate", "at most this on the wire: no limit, 10m, 100m, 500m (bits/s)", next_rate },
    { 'f', 0, "Interface", "the network interface: udp-sender's default, or each one", next_interface },
    { '\r', 0, "Start", "start the session", start_session },
    { KEY_ESC, 'q', "Back", "back to the image file", to_path },
    { KEY_F(1), '?', NULL, "this help", station_help },
    { 0 },
};

static const struct key_binding session_keys[] = {
    { KEY_F(8), 'c', "Cancel", "stop the session (udp-sender); the receivers stop with it", cancel_session },
    { '\r', 0, "Again", "after a session: the same image to the next room", next_session },
    { KEY_ESC, 'q', "Main", "the main screen (the session goes on; S shows it again)", to_main },
    { KEY_F(1), '?', NULL, "this help", station_help },
    { 0 },
};

static const char *const send_notes[] = {
    "Send: the image file goes out as it is (its compressed frames) to every receiver at once;",
    "each receiver checks every frame, the image's sha256, and reads its drives back.",
    "A receiver that stops answering is dropped (and named in the report); the others go on.",
    "The report is written beside the job reports when the session ends.",
    NULL,
};

static const struct screen send_path_screen = {
    .name = "send: image", .draw = draw_send, .key = type_path, .keys = path_keys,
    .what_works = "type the image's file name, Enter takes it, Esc goes back", .notes = send_notes,
};
static const struct screen send_options_screen = {
    .name = "send: options", .draw = draw_send, .keys = options_keys,
    .what_works = "+/- clients, w wait, b bitrate, f interface, Enter starts, Esc goes back", .notes = send_notes,
};
static const struct screen send_session_screen = {
    .name = "send: session", .draw = draw_send, .keys = session_keys,
    .what_works = "F8 stops the session, Esc returns to the main screen", .notes = send_notes,
};

static const struct screen *send_step(const struct station *st)
{
    switch (st->net->send_step) {
    case NSEND_PATH: return &send_path_screen;
    case NSEND_OPTIONS: return &send_options_screen;
    default: return &send_session_screen;
    }
}

const struct screen net_send_screen = {
    .name = "send", .draw = draw_send, .keys = session_keys, .current = send_step,
};
