/* net_send: one image to a room of receivers, through udpcast's udp-sender.
 *
 * The image file goes out as it is (its zstd frames, not the raw disk), so
 * each receiver checks every frame and the image's own digests. The image is
 * opened and checked whole (image_open) before the session starts: a file
 * that is not a clonebay image never goes on the wire. udp-sender runs with
 * --retries-until-drop, so a receiver that stops answering is dropped and the
 * others go on; its output is read to follow each receiver (joined,
 * receiving, finished, dropped and when) and the bytes sent, for the UI and
 * for the sender's report. No threads: the caller polls net_send_fd() and
 * calls net_send_pump(). */
#ifndef CB_NET_SEND_H
#define CB_NET_SEND_H

#include "clone/hash.h"
#include "common/cb_error.h"
#include "common/run_tool.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#define NET_MAX_RECEIVERS 64
/* REQACKs unanswered before a receiver is dropped: about ten seconds of
 * silence (udpcast's default, 200, holds the room for minutes). */
#define NET_RETRIES_UNTIL_DROP 20

enum net_rx_state { NET_RX_JOINED, NET_RX_RECEIVING, NET_RX_FINISHED, NET_RX_DROPPED, NET_RX_LEFT };

struct net_receiver {
    char addr[64];
    int slot;                       /* udp-sender's #N */
    enum net_rx_state state;
    double joined_at, ended_at;     /* seconds since the sender started */
    uint64_t ended_bytes;           /* bytes sent when it was dropped or left */
};

struct net_send_request {
    const char *image;
    int clients;                    /* start once this many joined (0: 1) */
    int wait_s;                     /* or this long after the first joined (0: no limit) */
    const char *max_bitrate;        /* udp-sender's syntax: 500m, 80000k; NULL none */
    const char *interface;          /* NULL: udp-sender's default */
};

struct net_send {
    char image[4096];
    uint64_t image_bytes, disk_bytes;
    char digest[HASH_MAX_HEX];      /* the image's recorded sha256 of the disk ("" none) */
    char source_model[160], created[32];
    char interface[64];
    struct tool_lines tool;         /* udp-sender */
    double t0, started_at, ended_at;/* monotonic: spawn; the transfer's start and end (since t0) */
    time_t wall_start;
    bool started, complete, cancelled;
    uint64_t bytes_sent, retransmits;
    struct net_receiver rx[NET_MAX_RECEIVERS];
    int nrx;
    char said[4][160];              /* udp-sender's last lines that were not progress, oldest first */
    int nsaid;
};

/* Check the image and remember its facts. 0, or a refusal with err naming it. */
int net_send_prepare(struct net_send *s, const struct net_send_request *req, struct cb_error *err);
/* Start udp-sender. 0 or -errno with err. */
int net_send_start(struct net_send *s, const struct net_send_request *req, struct cb_error *err);
int net_send_fd(const struct net_send *s);
/* Read what udp-sender said since the last call (never blocks). true once
 * it ended (exit_status set). */
bool net_send_pump(struct net_send *s);
/* Stop the session (udp-sender is terminated and reaped). */
void net_send_cancel(struct net_send *s);
/* Bytes per second over the transfer so far. */
double net_send_rate(const struct net_send *s);
/* What udp-sender said last, its lines joined by " / " (why a session failed). */
void net_send_said(const struct net_send *s, char *buf, size_t len);
/* Receivers that got the whole image. */
int net_send_finished(const struct net_send *s);
const char *net_rx_state_name(enum net_rx_state st);

void net_send_report_text(const struct net_send *s, const char *version, FILE *f);
int net_send_report_json(const struct net_send *s, const char *version, const char *path, struct cb_error *err);

#endif
