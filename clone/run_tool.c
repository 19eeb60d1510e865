#include "clone/run_tool.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
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

int run_tool(const char *const argv[], char *out, size_t len)
{
    if (len)
        out[0] = '\0';
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -rc;
    }
    char buf[4096];
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], buf, sizeof(buf))) != 0) {
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
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -EINTR;      /* killed by a signal */
}
