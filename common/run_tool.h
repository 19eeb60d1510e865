/* run_tool: run an external program (resize2fs, ntfsresize, mkswap, smartctl)
 * with an argv, never a shell, and keep what it printed. It lives in common/
 * because every layer runs tools: clone/ its filesystem tools, jobs/ mount
 * helpers, devices/ smartctl for a drive's health. */
#ifndef CB_RUN_TOOL_H
#define CB_RUN_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Runs argv[0] (looked up in PATH) with stdin from /dev/null and stdout and
 * stderr captured into out (the last len-1 bytes when it says more; NUL
 * ended). Returns its exit status (0..255), or -errno when it could not run. */
int run_tool(const char *const argv[], char *out, size_t len);

/* The same for a tool whose stdout is data to parse (smartctl --json):
 * stdout alone is captured (stderr goes to /dev/null), and a tool still
 * running after timeout_s seconds (0: no limit) is killed: -ETIMEDOUT. A
 * drive behind a hung bridge must not hold its caller for ever. */
int run_tool_stdout(const char *const argv[], char *out, size_t len, int timeout_s);

/* Start argv[0] (looked up in PATH) and return at once: stdin from
 * /dev/null, stdout on out_fd, stderr on err_fd (-1: /dev/null). For a tool
 * that runs beside its caller (udp-sender); the caller reaps *pid. 0 or -errno. */
int run_tool_spawn(const char *const argv[], int out_fd, int err_fd, pid_t *pid);

/* A tool that runs beside its caller (udp-sender, dnsmasq), its stdout and
 * stderr read line by line without blocking: the caller polls fd. A line
 * ends at \n or \r (progress lines end in \r). */
struct tool_lines {
    pid_t pid;                      /* -1 once reaped */
    int fd;                         /* its output, non-blocking; -1 once it ended */
    int exit_status;                /* -1 while it runs; 128+N when killed by signal N */
    char line[512];                 /* the line being read */
    size_t len;
};
typedef void (*tool_line_fn)(void *arg, const char *line);
int tool_lines_start(struct tool_lines *t, const char *const argv[]);
/* Hand every whole line read so far to fn. true once the tool ended (reaped). */
bool tool_lines_pump(struct tool_lines *t, tool_line_fn fn, void *arg);
/* Terminate it (SIGTERM), read its last lines, reap it. */
void tool_lines_stop(struct tool_lines *t, tool_line_fn fn, void *arg);

#endif
