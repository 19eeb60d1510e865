/* net_receive: join a udpcast session (udp-receiver) and hand its output
 * to a restore as an image stream (clone/image_stream.h).
 *
 * net_receive_join() starts udp-receiver with its output on a pipe and
 * reads the image's header from it; only then does the caller prepare the
 * restore (job_request.stream), so a stream that is not an image, or a
 * drive too small for it, is refused before a byte is written. A thread
 * reads udp-receiver's messages (its owner, net_receive_end, joins it): the
 * sender's address and the bytes received, for the UI and the report. */
#ifndef CB_NET_RECEIVE_H
#define CB_NET_RECEIVE_H

#include "clone/image_stream.h"
#include "common/cb_error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

struct net_receive {
    struct image_stream stream;
    pid_t pid;
    int data_fd, log_fd;
    pthread_t log_thread;
    bool log_running;
    pthread_mutex_t mu;             /* guards sender and last_msg (log thread writes, anyone reads) */
    char sender[64];                /* "10.77.0.1" once udp-receiver says whom it joined */
    char last_msg[256];             /* udp-receiver's last line that was not progress */
    char line[256];                 /* a message being read (log reader only) */
    size_t line_len;
    _Atomic uint64_t bytes;         /* log thread: bytes received so far, as udp-receiver counts them */
    int exit_status;                /* of udp-receiver after net_receive_end, -1 before */
};

/* Start udp-receiver and read the header. interface NULL: its default;
 * wait_s > 0: give up when no sender starts within that time; cancel (NULL:
 * none) set to 1 while waiting for the sender gives up too (-ECANCELED). 0,
 * or -errno with err (a stream that is not an image is -EINVAL, named). */
int net_receive_join(struct net_receive *r, const char *interface, int wait_s, _Atomic int *cancel,
                     struct cb_error *err);
/* The sender's address ("" when not known) into buf. */
void net_receive_sender(struct net_receive *r, char *buf, size_t len);
/* Leave the session (a refusal, or after the job): udp-receiver is stopped
 * if it still runs, reaped, and the log thread joined. */
void net_receive_end(struct net_receive *r);

#endif
