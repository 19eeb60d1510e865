#include "common/run_tool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Keep the tail: the end of a tool's output says how it ended. */
static void keep(char *out, size_t len, size_t *n, const char *buf, size_t got)
{
    if (len < 2)
        return;
    size_t cap = len - 1;
    if (got >= cap) {
        memcpy(out, buf + got - cap, cap);
        *n = cap;
    } else {
        if (*n + got > cap) {
            size_t drop = *n + got - cap;
            memmove(out, out + drop, *n - drop);
            *n -= drop;
        }
        memcpy(out + *n, buf, got);
        *n += got;
    }
    out[*n] = '\0';
}

/* Milliseconds left until deadline (CLOCK_MONOTONIC), or -1 for none. */
static int ms_left(const struct timespec *deadline)
{
    if (!deadline)
        return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

int run_tool_spawn(const char *const argv[], int out_fd, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (err_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

static int run(const char *const argv[], char *out, size_t len, bool with_stderr, int timeout_s)
{
    if (len)
        out[0] = '\0';
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    pid_t pid;
    int rc = run_tool_spawn(argv, fds[1], with_stderr ? fds[1] : -1, &pid);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return rc;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_s;
    bool timed_out = false;
    char buf[4096];
    size_t n = 0;
    for (;;) {
        struct pollfd p = { .fd = fds[0], .events = POLLIN };
        int pr = poll(&p, 1, ms_left(timeout_s > 0 ? &deadline : NULL));
        if (pr == 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        ssize_t r = read(fds[0], buf, sizeof(buf));
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        keep(out, len, &n, buf, (size_t)r);
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (timed_out)
        return -ETIMEDOUT;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -EINTR;      /* killed by a signal */
}

int run_tool(const char *const argv[], char *out, size_t len)
{
    return run(argv, out, len, true, 0);
}

int run_tool_stdout(const char *const argv[], char *out, size_t len, int timeout_s)
{
    return run(argv, out, len, false, timeout_s);
}

int tool_lines_start(struct tool_lines *t, const char *const argv[])
{
    memset(t, 0, sizeof(*t));
    t->pid = -1;
    t->fd = -1;
    t->exit_status = -1;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    int rc = run_tool_spawn(argv, fds[1], fds[1], &t->pid);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        t->pid = -1;
        return rc;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    t->fd = fds[0];
    return 0;
}

bool tool_lines_pump(struct tool_lines *t, tool_line_fn fn, void *arg)
{
    if (t->fd < 0)
        return true;
    char buf[4096];
    ssize_t n;
    while ((n = read(t->fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\r' || buf[i] == '\n') {
                t->line[t->len] = '\0';
                fn(arg, t->line);
                t->len = 0;
            } else if (t->len + 1 < sizeof(t->line)) {
                t->line[t->len++] = buf[i];
            }
        }
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return false;
    /* End of its output: it has ended, or closed it (then it is waited for). */
    int st = 0;
    pid_t w = -1;
    while (t->pid > 0 && (w = waitpid(t->pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (w > 0)
        t->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    t->pid = -1;
    close(t->fd);
    t->fd = -1;
    return true;
}

void tool_lines_stop(struct tool_lines *t, tool_line_fn fn, void *arg)
{
    if (t->pid > 0)
        kill(t->pid, SIGTERM);
    if (t->fd >= 0)
        fcntl(t->fd, F_SETFL, 0);       /* read to the end: it is reaped there */
    while (!tool_lines_pump(t, fn, arg))
        ;
}
