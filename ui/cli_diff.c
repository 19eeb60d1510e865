/* cli_diff: `clonebay diff A B`: which byte ranges of two disks (images,
 * drives, raw images) differ. Exit codes as diff(1)'s: 0 same, 1 different,
 * 2 refused or not all compared (an unreadable area). */
#include "clone/image_diff.h"
#include "common/units.h"
#include "jobs/image_job.h"
#include "ui/cli.h"
#include "ui/cli_mount.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct shown {
    const char *a, *b;
    unsigned long long max, printed;
};

static int show(void *arg, enum diff_kind kind, uint64_t off, uint64_t len, uint64_t ndiff)
{
    struct shown *s = arg;
    if (s->printed++ >= s->max)
        return 0;
    char size[32];
    units_format_bytes(len, size, sizeof(size));
    unsigned long long lo = (unsigned long long)off, hi = (unsigned long long)(off + len - 1);
    if (kind == DIFF_DIFFERS)
        printf("disk bytes %llu-%llu differ (%llu byte%s of %s)\n", lo, hi, (unsigned long long)ndiff,
               ndiff == 1 ? "" : "s", size);
    else if (kind == DIFF_UNREADABLE)
        printf("disk bytes %llu-%llu cannot be read on one side (a damaged frame or a bad sector): not compared\n",
               lo, hi);
    else
        printf("disk bytes %llu-%llu exist only on the larger one (%s)\n", lo, hi, size);
    return 0;
}

/* A drive or a raw image is read as it is; anything else must be a clonebay image. */
static bool is_raw(const char *path)
{
    struct stat st;
    return image_job_raw_name(path) || (stat(path, &st) == 0 && S_ISBLK(st.st_mode));
}

int cli_diff(int argc, char **argv)
{
    const char *paths[2] = { NULL, NULL };
    unsigned long long max = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("Usage: clonebay diff A B [--max-ranges N]\n"
                 "Which byte ranges of two disks differ: A and B are each a clonebay image (read frame by\n"
                 "frame through its seek table), a raw FILE.img or a drive. Ranges are exact at their ends;\n"
                 "changes less than 4 KiB apart are shown as one. Memory stays at two frames (16 MiB).\n"
                 "Exit 0 same, 1 different, 2 refused or an area could not be read on one side.");
            return CLI_OK;
        }
        if (!strcmp(argv[i], "--max-ranges") && i + 1 < argc) {
            max = strtoull(argv[++i], NULL, 10);
        } else if (argv[i][0] == '-') {
            return cli_fail(CLI_REFUSED, "diff: unknown option '%s'", argv[i]);
        } else if (!paths[0]) {
            paths[0] = argv[i];
        } else if (!paths[1]) {
            paths[1] = argv[i];
        } else {
            return cli_fail(CLI_REFUSED, "usage: clonebay diff A B [--max-ranges N]");
        }
    }
    if (!paths[1])
        return cli_fail(CLI_REFUSED, "usage: clonebay diff A B [--max-ranges N]");
    struct fcache *c[2] = { NULL, NULL };
    struct cb_error err = { 0 };
    for (int i = 0; i < 2; i++)
        if (fcache_open(&c[i], paths[i], is_raw(paths[i]), 1, &err)) {
            fcache_close(c[0]);
            return cli_fail(CLI_REFUSED, "%s", err.msg);
        }
    struct shown s = { paths[0], paths[1], max, 0 };
    struct diff_totals t;
    int rc = image_diff(c[0], c[1], show, &s, &t, &err);
    uint64_t sa = fcache_size(c[0]), sb = fcache_size(c[1]);
    fcache_close(c[0]);
    fcache_close(c[1]);
    if (rc)
        return cli_fail(CLI_REFUSED, "diff stopped: %s", err.msg);
    char compared[32], differ[32];
    units_format_bytes(t.compared, compared, sizeof(compared));
    units_format_bytes(t.differ, differ, sizeof(differ));
    if (s.printed > max)
        printf("... and %llu more ranges\n", s.printed - max);
    if (sa != sb)
        printf("sizes differ: %s is %llu bytes, %s is %llu bytes\n", paths[0], (unsigned long long)sa, paths[1],
               (unsigned long long)sb);
    bool differs = t.differ > 0;
    if (differs)
        printf("%s and %s differ: %llu range%s, %llu bytes differ in all (%s; %s compared)\n", paths[0], paths[1],
               (unsigned long long)t.ranges, t.ranges == 1 ? "" : "s", (unsigned long long)t.differ, differ, compared);
    if (t.unreadable) {
        char un[32];
        units_format_bytes(t.unreadable, un, sizeof(un));
        printf("%s could not be compared (unreadable on one side)\n", un);
    }
    if (!differs && !t.unreadable)
        printf("%s and %s are the same (%s compared)\n", paths[0], paths[1], compared);
    return differs ? CLI_FAILED : t.unreadable ? CLI_REFUSED : CLI_OK;
}
