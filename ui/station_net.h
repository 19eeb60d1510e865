/* station_net: one image to a room of PCs, from the station (issue 20).
 *
 * "Receive from the network" (station_net.c): the technician marks the
 * drives to write (by identity, as the wizard does) and confirms; a job of
 * the queue then joins the udpcast session in its own thread
 * (jobs/net_receive_job.h), so the station never waits on the network, and
 * restores what arrives with every check of `clonebay receive`.
 * "Send image to the network" (station_net_send.c): `clonebay send`'s
 * options, then a receivers panel (address, state) and the session's rate,
 * live, from what udp-sender says (jobs/net_send.h); its report goes beside
 * the job reports. */
#ifndef CB_UI_STATION_NET_H
#define CB_UI_STATION_NET_H

#include "devices/dev_ident.h"
#include "jobs/job_run.h"
#include "jobs/net_receive_job.h"
#include "jobs/net_send.h"

#include <stdbool.h>

struct station;
struct screen;

enum net_send_step { NSEND_PATH, NSEND_OPTIONS, NSEND_RUNNING, NSEND_ENDED };

struct station_net {
    /* receive */
    struct dev_ident picked[JOB_MAX_TARGETS];
    size_t npicked;
    int cursor;
    bool confirming;                /* the confirmation is showing */
    struct net_receive_opts opts;   /* as the screen shows them */
    struct net_receive_opts **kept; /* each queued receive's own copy (its job reads it), freed at exit */
    int nkept;
    /* send */
    enum net_send_step send_step;
    char path[256];
    int clients, wait_s;
    int bitrate;                    /* index into the offered rates */
    char interface[32];             /* "": udp-sender's default */
    struct net_send send;           /* the session (NSEND_RUNNING, NSEND_ENDED) */
    char send_report[4200];
};

/* printw from row y, column x (y < 0: where the cursor is) that stops at the
 * right edge: a serial console of 80 columns must not wrap it onto the next row. */
void net_printw(int y, int x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The interface after cur in the machine's list ("" = automatic, then each one). */
void station_net_next_interface(char *cur, size_t len);

#endif
