/* cli_diff: `clonebay diff A B`: which byte ranges of two disks (images,
 * drives, raw images) differ. Exit codes as diff(1)'s: 0 same, 1 different,
 * 2 refused or not all compared (an unreadable area). */
#include "clone/image_diff.h"
#include "common/units.h"
#include "jobs/image_job.h"
#include "jobs/image_mount.h"
#include "ui/cli.h"
#include "ui/cli_mount.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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

/* diff -rq of one partition pair, run in base so its lines read "a/p2/x" and
 * "b/p2/x"; its output goes straight to ours. Its exit status, or -1. */
static int diff_tree(const char *base, int number)
{
    char a[32], b[32];
    snprintf(a, sizeof(a), "a/p%d", number);
    snprintf(b, sizeof(b), "b/p%d", number);
    const char *argv[] = { "diff", "-rq", "--no-dereference", a, b, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, base);
    fflush(stdout);
    pid_t pid;
    int rc = posix_spawnp(&pid, "diff", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const struct mounted_part *part_numbered(const struct image_mount *m, int number)
{
    for (size_t i = 0; i < m->nparts; i++)
        if (m->parts[i].number == number)
            return &m->parts[i];
    return NULL;
}

/* Compare one partition pair: 0 same, 1 different, 2 not compared. */
static int compare_part(const char *base, const char *const paths[2], const struct mounted_part *pa,
                        const struct mounted_part *pb)
{
    int number = pa ? pa->number : pb->number;
    if (!pa || !pb) {
        printf("partition #%d is only in %s\n", number, pa ? paths[0] : paths[1]);
        return 1;
    }
    if (strcmp(pa->fstype, pb->fstype) != 0) {
        printf("partition #%d: %s holds %s, %s holds %s\n", number, paths[0], pa->fstype[0] ? pa->fstype : "nothing",
               paths[1], pb->fstype[0] ? pb->fstype : "nothing");
        return 1;
    }
    if (!pa->mounted || !pb->mounted) {
        if (pa->fstype[0])
            printf("partition #%d (%s): files not compared: %s\n", number, pa->fstype,
                   !pa->mounted ? pa->note : pb->note);
        return pa->fstype[0] ? 2 : 0;
    }
    int rc = diff_tree(base, number);
    if (rc < 0 || rc > 1) {
        printf("partition #%d (%s): diff could not compare every file\n", number, pa->fstype);
        return 2;
    }
    printf("partition #%d (%s%s%s%s): %s\n", number, pa->fstype, pa->label[0] ? " '" : "", pa->label,
           pa->label[0] ? "'" : "", rc ? "files differ" : "same files");
    return rc;
}

/* --files: both sides mounted read-only (clonebay mount, a drive too), and
 * each partition compared with diff -rq. Everything is unmounted after. */
static int diff_files(const char *const paths[2])
{
    char base[] = "/tmp/clonebay-diff-XXXXXX";
    if (!mkdtemp(base))
        return cli_fail(CLI_REFUSED, "cannot make a folder in /tmp: %s", strerror(errno));
    static struct image_mount m[2];
    char dir[2][64];
    int mounted = 0, code = CLI_OK;
    struct cb_error err = { 0 };
    for (int i = 0; i < 2; i++) {
        snprintf(dir[i], sizeof(dir[i]), "%s/%c", base, 'a' + i);
        if (mkdir(dir[i], 0700) != 0 || image_mount(paths[i], dir[i], &m[i], &err) != 0) {
            code = cli_fail(CLI_REFUSED, "%s", err.msg[0] ? err.msg : strerror(errno));
            break;
        }
        mounted++;
    }
    for (int n = 1; mounted == 2 && n <= 999; n++) {
        const struct mounted_part *pa = part_numbered(&m[0], n), *pb = part_numbered(&m[1], n);
        if (!pa && !pb)
            continue;
        int rc = compare_part(base, paths, pa, pb);
        if (rc == 1 || (rc == 2 && code == CLI_OK))
            code = rc;      /* a difference outranks a partition not compared */
    }
    if (mounted == 2 && code == CLI_OK)
        printf("%s and %s hold the same files\n", paths[0], paths[1]);
    for (int i = 0; i < mounted; i++) {
        struct cb_error uerr = { 0 };
        if (image_umount(dir[i], NULL, &uerr) != 0)
            code = cli_fail(CLI_REFUSED, "%s (undo it with: clonebay umount %s)", uerr.msg, dir[i]);
    }
    for (int i = 0; i < 2; i++)
        rmdir(dir[i]);
    rmdir(base);
    return code;
}

int cli_diff(int argc, char **argv)
{
    const char *paths[2] = { NULL, NULL };
    unsigned long long max = 1000;
    bool files = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("Usage: clonebay diff A B [--max-ranges N] [--files]\n"
                 "Which byte ranges of two disks differ: A and B are each a clonebay image (read frame by\n"
                 "frame through its seek table), a raw FILE.img or a drive. Ranges are exact at their ends;\n"
                 "changes less than 4 KiB apart are shown as one. Memory stays at two frames (16 MiB).\n"
                 "--files: mount both read-only (as clonebay mount does) and list the files that differ in\n"
                 "each partition (diff -rq), instead of byte ranges.\n"
                 "Exit 0 same, 1 different, 2 refused or an area could not be read on one side.");
            return CLI_OK;
        }
        if (!strcmp(argv[i], "--files")) {
            files = true;
        } else if (!strcmp(argv[i], "--max-ranges") && i + 1 < argc) {
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
        return cli_fail(CLI_REFUSED, "usage: clonebay diff A B [--max-ranges N] [--files]");
    if (files)
        return diff_files(paths);
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
