#include "jobs/net_send.h"
#include "clone/http_range.h"
#include "clone/image_read.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/run_tool.h"
#include "common/safe_file.h"
#include "common/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *net_rx_state_name(enum net_rx_state st)
{
    static const char *const names[] = {
        [NET_RX_JOINED] = "joined", [NET_RX_RECEIVING] = "receiving", [NET_RX_FINISHED] = "finished",
        [NET_RX_DROPPED] = "DROPPED", [NET_RX_LEFT] = "left",
    };
    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

int net_send_prepare(struct net_send *s, const struct net_send_request *req, struct cb_error *err)
{
    memset(s, 0, sizeof(*s));
    s->tool.fd = -1;
    s->tool.pid = -1;
    if (http_range_is_url(req->image))
        return cb_error_set(err, -EINVAL, "%s is a URL: udp-sender sends a local image file; restore it with "
                            "clonebay restore %s DST, or copy it here first", req->image, req->image);
    struct image img;
    int rc = image_open(&img, req->image, err);
    if (rc)
        return rc;
    if (img.pf.nparts > 1)
        rc = cb_error_set(err, -EINVAL, "%s is split into %d parts; udp-sender sends one file: join them first "
                          "(cat %s.000 %s.001 ... > %s)", req->image, img.pf.nparts, req->image, req->image,
                          req->image);
    snprintf(s->image, sizeof(s->image), "%s", img.pf.path);
    s->image_bytes = img.pf.size;
    s->disk_bytes = img.meta.size;
    snprintf(s->digest, sizeof(s->digest), "%s", img.meta.digests[HASH_SHA256]);
    snprintf(s->source_model, sizeof(s->source_model), "%s",
             img.meta.source_model[0] ? img.meta.source_model : img.meta.source_path);
    snprintf(s->created, sizeof(s->created), "%s", img.meta.created);
    if (req->interface)
        snprintf(s->interface, sizeof(s->interface), "%s", req->interface);
    image_close(&img);
    return rc;
}

int net_send_start(struct net_send *s, const struct net_send_request *req, struct cb_error *err)
{
    char clients[16], wait_s[16], retries[16];
    const char *argv[24];
    int n = 0;
    argv[n++] = "udp-sender";
    argv[n++] = "--file";
    argv[n++] = s->image;
    argv[n++] = "--nokbd";
    snprintf(retries, sizeof(retries), "%d", NET_RETRIES_UNTIL_DROP);
    argv[n++] = "--retries-until-drop";
    argv[n++] = retries;
    snprintf(clients, sizeof(clients), "%d", req->clients > 0 ? req->clients : 1);
    argv[n++] = "--min-receivers";
    argv[n++] = clients;
    if (req->wait_s > 0) {
        snprintf(wait_s, sizeof(wait_s), "%d", req->wait_s);
        argv[n++] = "--max-wait";
        argv[n++] = wait_s;
    }
    if (req->max_bitrate) {
        argv[n++] = "--max-bitrate";
        argv[n++] = req->max_bitrate;
    }
    if (req->interface) {
        argv[n++] = "--interface";
        argv[n++] = req->interface;
    }
    argv[n] = NULL;
    int rc = tool_lines_start(&s->tool, argv);
    if (rc)
        return cb_error_set(err, rc, "cannot run udp-sender (package udpcast): %s", strerror(-rc));
    s->t0 = cb_seconds();
    s->wall_start = time(NULL);
    return 0;
}

int net_send_fd(const struct net_send *s)
{
    return s->tool.fd;
}

static double now(const struct net_send *s)
{
    return cb_seconds() - s->t0;
}

/* The receiver udp-sender calls #slot, the latest one given that number. */
static struct net_receiver *by_slot(struct net_send *s, int slot)
{
    for (int i = s->nrx - 1; i >= 0; i--)
        if (s->rx[i].slot == slot)
            return &s->rx[i];
    return NULL;
}

static void ended(struct net_send *s, struct net_receiver *r, enum net_rx_state st)
{
    r->state = st;
    r->ended_at = now(s);
    r->ended_bytes = s->bytes_sent;
}

/* "bytes= 52 428 800  re-xmits=0005374 ( 14.9%) ...": udpcast groups digits by spaces. */
static void progress(struct net_send *s, const char *p)
{
    uint64_t v = 0;
    for (; *p == ' ' || (*p >= '0' && *p <= '9'); p++)
        if (*p != ' ')
            v = v * 10 + (uint64_t)(*p - '0');
    s->bytes_sent = v;
    const char *x = strstr(p, "re-xmits=");
    if (x)
        s->retransmits = strtoull(x + 9, NULL, 10);
}

static void parse_line(void *arg, const char *l)
{
    struct net_send *s = arg;
    char addr[64];
    int slot;
    struct net_receiver *r;
    if (!strncmp(l, "bytes=", 6)) {
        progress(s, l + 6);
        return;
    }
    if (sscanf(l, "New connection from %63s (#%d)", addr, &slot) == 2 && s->nrx < NET_MAX_RECEIVERS) {
        r = &s->rx[s->nrx++];
        memset(r, 0, sizeof(*r));
        snprintf(r->addr, sizeof(r->addr), "%s", addr);
        r->slot = slot;
        r->state = s->started ? NET_RX_RECEIVING : NET_RX_JOINED;
        r->joined_at = now(s);
    } else if (!strncmp(l, "Starting transfer", 17)) {
        s->started = true;
        s->started_at = now(s);
        for (int i = 0; i < s->nrx; i++)
            if (s->rx[i].state == NET_RX_JOINED)
                s->rx[i].state = NET_RX_RECEIVING;
    } else if (sscanf(l, "Dropping client #%d", &slot) == 1 && (r = by_slot(s, slot))) {
        ended(s, r, NET_RX_DROPPED);
    } else if (sscanf(l, "Disconnecting #%d", &slot) == 1 && (r = by_slot(s, slot))) {
        if (r->state == NET_RX_RECEIVING || r->state == NET_RX_JOINED)
            ended(s, r, s->complete ? NET_RX_FINISHED : NET_RX_LEFT);
    } else if (!strncmp(l, "Transfer complete", 17)) {
        s->complete = true;
        s->ended_at = now(s);
    }
    if (!l[0])
        return;
    if (s->nsaid == 4) {
        memmove(s->said[0], s->said[1], sizeof(s->said[0]) * 3);
        s->nsaid = 3;
    }
    snprintf(s->said[s->nsaid++], sizeof(s->said[0]), "%s", l);
}

bool net_send_pump(struct net_send *s)
{
    bool ended = tool_lines_pump(&s->tool, parse_line, s);
    if (ended && !s->ended_at)
        s->ended_at = now(s);
    return ended;
}

void net_send_cancel(struct net_send *s)
{
    s->cancelled = true;
    tool_lines_stop(&s->tool, parse_line, s);
    if (!s->ended_at)
        s->ended_at = now(s);
}

double net_send_rate(const struct net_send *s)
{
    if (!s->started)
        return 0;
    double t = (s->ended_at > 0 ? s->ended_at : now(s)) - s->started_at;
    return t > 0 ? (double)s->bytes_sent / t : 0;
}

void net_send_said(const struct net_send *s, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->nsaid && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " / " : "", s->said[i]);
}

int net_send_finished(const struct net_send *s)
{
    int n = 0;
    for (int i = 0; i < s->nrx; i++)
        n += s->rx[i].state == NET_RX_FINISHED;
    return n;
}

static const char *verdict(const struct net_send *s)
{
    if (s->cancelled)
        return "cancelled by the operator";
    if (!s->complete)
        return s->started ? "the session failed before the image was sent whole" : "the session never started";
    return net_send_finished(s) == s->nrx ? "every receiver got the whole image"
                                          : "some receivers did not get the whole image";
}

void net_send_report_text(const struct net_send *s, const char *version, FILE *f)
{
    char when[64], a[32], b[32], r[32];
    struct tm tm;
    localtime_r(&s->wall_start, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
    fprintf(f, "clonebay %s send report, %s\n", version, when);
    units_format_bytes(s->image_bytes, a, sizeof(a));
    units_format_bytes(s->disk_bytes, b, sizeof(b));
    fprintf(f, "image    %s  %s holding %s of disk (image of %s, made %s)\n", s->image, a, b, s->source_model,
            s->created);
    if (s->digest[0])
        fprintf(f, "hash     sha256 %s (of the disk, recorded in the image)\n", s->digest);
    units_format_bytes(s->bytes_sent, a, sizeof(a));
    units_format_bytes((uint64_t)net_send_rate(s), r, sizeof(r));
    fprintf(f, "session  %s sent in %.1f s (%s/s), %llu blocks sent again%s%s\n", a,
            s->started ? s->ended_at - s->started_at : 0.0, r, (unsigned long long)s->retransmits,
            s->interface[0] ? ", on " : "", s->interface);
    for (int i = 0; i < s->nrx; i++) {
        const struct net_receiver *x = &s->rx[i];
        fprintf(f, "receiver %-15s %s", x->addr, net_rx_state_name(x->state));
        if (x->state == NET_RX_DROPPED || x->state == NET_RX_LEFT) {
            units_format_bytes(x->ended_bytes, a, sizeof(a));
            fprintf(f, " %.1f s into the session, after %s of %s (%s)", x->ended_at - s->started_at, a,
                    units_format_bytes(s->image_bytes, b, sizeof(b)),
                    x->state == NET_RX_DROPPED ? "it stopped answering" : "it left");
        }
        fputc('\n', f);
    }
    for (int i = 0; !s->complete && i < s->nsaid; i++)
        fprintf(f, "tool     udp-sender: %s\n", s->said[i]);
    fprintf(f, "outcome  %s (%d of %d receivers finished)\n", verdict(s), net_send_finished(s), s->nrx);
}

static void report_json(FILE *f, const void *obj, const char *version)
{
    const struct net_send *s = obj;
    struct json_writer w;
    jw_init(&w, f);
    jw_object_begin(&w, NULL);
    jw_string(&w, "tool", "clonebay");
    jw_string(&w, "version", version);
    jw_string(&w, "operation", "send");
    jw_i64(&w, "started", (int64_t)s->wall_start);
    jw_string(&w, "image", s->image);
    jw_u64(&w, "image_bytes", s->image_bytes);
    jw_u64(&w, "disk_bytes", s->disk_bytes);
    jw_string(&w, "sha256", s->digest[0] ? s->digest : NULL);
    jw_string(&w, "interface", s->interface[0] ? s->interface : NULL);
    jw_bool(&w, "complete", s->complete);
    jw_bool(&w, "cancelled", s->cancelled);
    jw_u64(&w, "bytes_sent", s->bytes_sent);
    jw_u64(&w, "retransmits", s->retransmits);
    jw_double(&w, "seconds", s->started ? s->ended_at - s->started_at : 0.0);
    jw_double(&w, "rate", net_send_rate(s));
    jw_array_begin(&w, "receivers");
    for (int i = 0; i < s->nrx; i++) {
        const struct net_receiver *x = &s->rx[i];
        jw_object_begin(&w, NULL);
        jw_string(&w, "address", x->addr);
        jw_string(&w, "state", net_rx_state_name(x->state));
        jw_double(&w, "joined_at", x->joined_at);
        if (x->state == NET_RX_DROPPED || x->state == NET_RX_LEFT) {
            jw_double(&w, "ended_at", x->ended_at - s->started_at);
            jw_u64(&w, "bytes_when_ended", x->ended_bytes);
        }
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_array_begin(&w, "udp_sender_said");
    for (int i = 0; !s->complete && i < s->nsaid; i++)
        jw_string(&w, NULL, s->said[i]);
    jw_array_end(&w);
    jw_string(&w, "outcome", verdict(s));
    jw_object_end(&w);
    jw_finish(&w);
}

int net_send_report_json(const struct net_send *s, const char *version, const char *path, struct cb_error *err)
{
    return safe_file_write_report(path, report_json, s, version, err);
}
