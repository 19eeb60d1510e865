/* net_receive_job: a receive as a job of the station's queue.
 *
 * The station never waits on the network: it queues a restore whose source
 * is joined by the job's own thread (job_request.join). That thread brings
 * up the wired interfaces with DHCP when asked (the live system), starts
 * udp-receiver, waits for a sender and reads the image's header; only then
 * is the restore prepared, with every check of `clonebay restore` (too
 * small, identity changed, ...) before its first write. The report names the
 * sender and the image. */
#ifndef CB_NET_RECEIVE_JOB_H
#define CB_NET_RECEIVE_JOB_H

#include "jobs/job_run.h"

#include <stdbool.h>

struct net_receive_opts {
    char interface[32];     /* "": the first interface with an IPv4 address when the job starts */
    int wait_s;             /* give up when no sender starts within this time (0: wait until cancelled) */
    bool dhcp;              /* first ask DHCP (busybox udhcpc) for the wired interfaces without an address */
};

/* req as a receive onto its targets: source "the network", sha256 and
 * verification, joined by the job's thread with opts (which must outlive
 * the job). The caller sets targets and their identities. */
void net_receive_job_request(struct job_request *req, const struct net_receive_opts *opts);

/* The first interface (not lo) with an IPv4 address, into buf; false when none. */
bool net_first_interface(char *buf, size_t len);

/* busybox udhcpc for every interface (not lo, not wireless) that is down or
 * has no IPv4 address: up, and a lease asked for (udhcpc goes on in the
 * background once bound; this waits for its first answer). The interfaces
 * asked for go into said (""). 0, or -errno when udhcpc cannot run. */
int net_dhcp_up(char *said, size_t len);

#endif
