#include "jobs/net_receive.h"
#include "common/run_tool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A sender stalled this long is gone (it waits ~10 s for a dropped receiver). */
#define NET_RECEIVE_TIMEOUT_S "60"
/* A socket buffer that holds a burst while the restore is busy: with the
 * default one, measured over veth, udp-sender retransmitted 20-40% of the
 * blocks to a receiver that was only briefly late; with 4 MiB, none. The
 * kernel caps it at net.core.rmem_max. */
#define NET_RECEIVE_RCVBUF "4194304"

static void parse_line(struct net_receive *r, const char *l)
{
    char addr[64];
    int slot;
    if (!strncmp(l, "bytes=", 6)) {
        uint64_t v = 0;
        for (const char *p = l + 6; *p == ' ' || (*p >= '0' && *p <= '9'); p++)
            if (*p != ' ')
                v = v * 10 + (uint64_t)(*p - '0');
        atomic_store(&r->bytes, v);
        return;
    }
    pthread_mutex_lock(&r->mu);
    if (sscanf(l, "Connected as #%d to %63s", &slot, addr) == 2)
        snprintf(r->sender, sizeof(r->sender), "%s", addr);
    if (l[0])
        snprintf(r->last_msg, sizeof(r->last_msg), "%s", l);
    pthread_mutex_unlock(&r->mu);
}

/* One read of udp-receiver's stderr, parsed; false at its end (the process exited). */
static bool log_read(struct net_receive *r)
{
    char buf[1024];
    ssize_t n = read(r->log_fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
        return true;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\r' || buf[i] == '\n') {       /* progress lines end in \r */
            r->line[r->line_len] = '\0';
            parse_line(r, r->line);
            r->line_len = 0;
        } else if (r->line_len + 1 < sizeof(r->line)) {
            r->line[r->line_len++] = buf[i];
        }
    }
    return n > 0;
}

static void *log_main(void *arg)
{
    struct net_receive *r = arg;
    while (log_read(r))
        ;
    return NULL;
}

/* Until the image's first bytes come (or udp-receiver ends), read its
 * messages here: it names the sender before it writes any data, so the
 * stream is named after the sender from its first error on. */
static bool wait_for_data(struct net_receive *r, _Atomic int *cancel)
{
    for (;;) {
        struct pollfd p[2] = { { .fd = r->data_fd, .events = POLLIN }, { .fd = r->log_fd, .events = POLLIN } };
        if (cancel && atomic_load(cancel))
            return false;
        if (poll(p, 2, cancel ? 200 : -1) < 0 && errno != EINTR)
            return true;
        if (p[1].revents && !log_read(r))
            return true;
        if (p[0].revents && !(p[1].revents & POLLIN))
            return true;
    }
}

static int spawn(struct net_receive *r, const char *interface, int wait_s, struct cb_error *err)
{
    char wait_arg[16];
    const char *argv[16];
    int n = 0;
    argv[n++] = "udp-receiver";
    argv[n++] = "--nokbd";
    argv[n++] = "--receive-timeout";
    argv[n++] = NET_RECEIVE_TIMEOUT_S;
    argv[n++] = "--rcvbuf";
    argv[n++] = NET_RECEIVE_RCVBUF;
    if (interface) {
        argv[n++] = "--interface";
        argv[n++] = interface;
    }
    if (wait_s > 0) {
        snprintf(wait_arg, sizeof(wait_arg), "%d", wait_s);
        argv[n++] = "--start-timeout";
        argv[n++] = wait_arg;
    }
    argv[n] = NULL;
    int data[2], log[2];
    if (pipe2(data, O_CLOEXEC) != 0)
        return cb_error_set(err, -errno, "cannot make a pipe for udp-receiver: %s", strerror(errno));
    if (pipe2(log, O_CLOEXEC) != 0) {
        int e = errno;
        close(data[0]);
        close(data[1]);
        return cb_error_set(err, -e, "cannot make a pipe for udp-receiver: %s", strerror(e));
    }
    fcntl(data[0], F_SETPIPE_SZ, 1 << 20);     /* fewer, larger reads of the image (best effort) */
    int rc = run_tool_spawn(argv, data[1], log[1], &r->pid);
    close(data[1]);
    close(log[1]);
    r->data_fd = data[0];
    r->log_fd = log[0];
    if (rc) {
        r->pid = -1;
        return cb_error_set(err, rc, "cannot run udp-receiver (package udpcast): %s", strerror(-rc));
    }
    return 0;
}

int net_receive_join(struct net_receive *r, const char *interface, int wait_s, _Atomic int *cancel,
                     struct cb_error *err)
{
    memset(r, 0, sizeof(*r));
    r->pid = -1;
    r->data_fd = r->log_fd = -1;
    r->exit_status = -1;
    pthread_mutex_init(&r->mu, NULL);
    int rc = spawn(r, interface, wait_s, err);
    char sender[64] = "", name[128] = "the image from the network";
    if (!rc && !wait_for_data(r, cancel))
        return cb_error_set(err, -ECANCELED, "cancelled while waiting for a sender; nothing was written");
    if (!rc) {
        r->log_running = pthread_create(&r->log_thread, NULL, log_main, r) == 0;
        net_receive_sender(r, sender, sizeof(sender));
        if (sender[0])
            snprintf(name, sizeof(name), "the image from udp-sender at %s", sender);
        rc = image_stream_open(&r->stream, r->data_fd, name, err);
    }
    if (rc == -EPIPE && r->stream.in_pos == 0) {
        net_receive_end(r);     /* udp-receiver has ended: its last word says why */
        rc = cb_error_set(err, -ENODATA, "no image came from the network%s%s%s%s%s%s",
                          sender[0] ? " (sender " : "", sender, sender[0] ? ")" : "",
                          r->last_msg[0] ? " (udp-receiver: " : "", r->last_msg, r->last_msg[0] ? ")" : "");
    }
    return rc;
}

void net_receive_sender(struct net_receive *r, char *buf, size_t len)
{
    pthread_mutex_lock(&r->mu);
    snprintf(buf, len, "%s", r->sender);
    pthread_mutex_unlock(&r->mu);
}

void net_receive_end(struct net_receive *r)
{
    if (r->data_fd >= 0)
        close(r->data_fd);      /* a udp-receiver still writing gets EPIPE */
    r->data_fd = -1;
    if (r->pid > 0) {
        int st;
        /* A whole image was read to its end: udp-receiver finishes the session
         * (its last acknowledgement) by itself. Otherwise it is told to stop. */
        if (!r->stream.ended)
            kill(r->pid, SIGTERM);
        while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
            ;
        r->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        r->pid = -1;
    }
    if (r->log_running)
        pthread_join(r->log_thread, NULL);
    r->log_running = false;
    if (r->log_fd >= 0)
        close(r->log_fd);
    r->log_fd = -1;
    image_stream_close(&r->stream);
}
