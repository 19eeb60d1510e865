/* run_tool: run an external program (resize2fs, ntfsresize, mkswap) with an
 * argv, never a shell, and keep what it printed for the job log. */
#ifndef CB_RUN_TOOL_H
#define CB_RUN_TOOL_H

#include <stddef.h>

/* Runs argv[0] (looked up in PATH) with stdin from /dev/null and stdout and
 * stderr captured into out (the last len-1 bytes when it says more; NUL
 * ended). Returns its exit status (0..255), or -errno when it could not run. */
int run_tool(const char *const argv[], char *out, size_t len);

#endif
