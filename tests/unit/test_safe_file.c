/* Unit tests for common/safe_file: exclusive creation that never follows a
 * planted link or opens a device, and replacement through a fresh temp. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/safe_file.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cb-safe-file.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int drop_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void in_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void creates_new_file_with_mode(void **state)
{
    (void)state;
    char p[128];
    in_dir(p, sizeof(p), "new");
    mode_t old = umask(0);
    int fd = safe_file_create(p, O_WRONLY, 0640);
    umask(old);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0640);
    /* A second creation of the same name is refused: the first owns it. */
    assert_int_equal(safe_file_create(p, O_WRONLY, 0644), -EEXIST);
    assert_null(safe_file_odd_kind(p));
}

static void refuses_planted_symlink(void **state)
{
    (void)state;
    char victim[128], link[128], buf[64];
    in_dir(victim, sizeof(victim), "victim");
    in_dir(link, sizeof(link), "image.zst.partial");
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious", f);
    fclose(f);
    assert_int_equal(symlink(victim, link), 0);
    assert_int_equal(safe_file_create(link, O_WRONLY, 0644), -EEXIST);
    errno = 0;
    assert_null(safe_file_fcreate(link, 0644));
    assert_int_equal(errno, EEXIST);
    slurp(victim, buf, sizeof(buf));
    assert_string_equal(buf, "precious");
    assert_string_equal(safe_file_odd_kind(link), "a symbolic link");
    /* A dangling link must not let the write create its target either. */
    char dangling[128], target[128];
    in_dir(dangling, sizeof(dangling), "dangling");
    in_dir(target, sizeof(target), "made-through-link");
    assert_int_equal(symlink(target, dangling), 0);
    assert_int_equal(safe_file_create(dangling, O_WRONLY, 0644), -EEXIST);
    assert_int_equal(access(target, F_OK), -1);
}

static void refuses_device_node_and_folder(void **state)
{
    (void)state;
    char node[128], sub[128];
    in_dir(node, sizeof(node), "node");
    in_dir(sub, sizeof(sub), "sub");
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(safe_file_create(sub, O_WRONLY, 0644), -EEXIST);
    assert_string_equal(safe_file_odd_kind(sub), "a folder");
    /* /dev/null's numbers: a character device, as root only. */
    if (mknod(node, S_IFCHR | 0600, makedev(1, 3)) == 0) {
        assert_int_equal(safe_file_create(node, O_WRONLY, 0644), -EEXIST);
        assert_string_equal(safe_file_odd_kind(node), "a device node");
    }
}

static void replace_through_temp(void **state)
{
    (void)state;
    char report[128], victim[128], tmp[256], buf[64];
    in_dir(report, sizeof(report), "report.json");
    in_dir(victim, sizeof(victim), "victim2");
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious", f);
    fclose(f);
    /* A link where the report goes is replaced by the report, never written through. */
    assert_int_equal(symlink(victim, report), 0);
    FILE *t = safe_file_ftemp(report, 0644, tmp, sizeof(tmp));
    assert_non_null(t);
    assert_int_equal(strncmp(tmp, report, strlen(report)), 0);
    fputs("{}", t);
    assert_int_equal(safe_file_freplace(t, tmp, report), 0);
    struct stat st;
    assert_int_equal(lstat(report, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0644);
    slurp(report, buf, sizeof(buf));
    assert_string_equal(buf, "{}");
    slurp(victim, buf, sizeof(buf));
    assert_string_equal(buf, "precious");
    assert_int_equal(access(tmp, F_OK), -1);
    /* Written again: a second fresh temp, renamed over the first report. */
    t = safe_file_ftemp(report, 0644, tmp, sizeof(tmp));
    assert_non_null(t);
    fputs("[]", t);
    assert_int_equal(safe_file_freplace(t, tmp, report), 0);
    slurp(report, buf, sizeof(buf));
    assert_string_equal(buf, "[]");
}

static void replace_failure_removes_temp(void **state)
{
    (void)state;
    char sub[128], tmp[256];
    in_dir(sub, sizeof(sub), "a-folder");
    assert_int_equal(mkdir(sub, 0755), 0);
    char inner[200];
    snprintf(inner, sizeof(inner), "%s/keep", sub);
    FILE *f = fopen(inner, "w");
    assert_non_null(f);
    fclose(f);
    /* rename over a non-empty folder fails: the temp must not linger. */
    FILE *t = safe_file_ftemp(sub, 0644, tmp, sizeof(tmp));
    assert_non_null(t);
    assert_true(safe_file_freplace(t, tmp, sub) < 0);
    assert_int_equal(access(tmp, F_OK), -1);
}

static void replace_by_descriptor(void **state)
{
    (void)state;
    char map[128], tmp[256], buf[64];
    in_dir(map, sizeof(map), "rescue.map");
    int fd = safe_file_temp(map, 0600, tmp, sizeof(tmp));
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(write(fd, "# map", 5), 5);
    assert_int_equal(safe_file_replace(fd, tmp, map), 0);
    slurp(map, buf, sizeof(buf));
    assert_string_equal(buf, "# map");
    assert_int_equal(access(tmp, F_OK), -1);
}

static void scratch_is_private(void **state)
{
    (void)state;
    char sdir[256], spath[256];
    mode_t old = umask(0);      /* the modes must not depend on the caller's umask */
    int fd = safe_file_scratch(dir, "shrink-p2", sdir, sizeof(sdir), spath, sizeof(spath));
    umask(old);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(lstat(sdir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(lstat(spath, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(strncmp(spath, sdir, strlen(sdir)), 0);
    assert_non_null(strstr(sdir, "/clonebay-shrink-p2-"));
    close(fd);
    safe_file_scratch_remove(sdir, spath);
    assert_int_equal(access(spath, F_OK), -1);
    assert_int_equal(access(sdir, F_OK), -1);
    /* Two scratch files never share a name or a folder. */
    char d2[256], p2[256], d3[256], p3[256];
    int a = safe_file_scratch(dir, "x", d2, sizeof(d2), p2, sizeof(p2));
    int b = safe_file_scratch(dir, "x", d3, sizeof(d3), p3, sizeof(p3));
    assert_true(a >= 0 && b >= 0);
    assert_string_not_equal(d2, d3);
    close(a);
    close(b);
    safe_file_scratch_remove(d2, p2);
    safe_file_scratch_remove(d3, p3);
    /* A parent that does not exist: an error, and nothing named. */
    char missing[128];
    in_dir(missing, sizeof(missing), "no/such");
    assert_int_equal(safe_file_scratch(missing, "x", sdir, sizeof(sdir), spath, sizeof(spath)), -ENOENT);
    assert_string_equal(sdir, "");
    assert_string_equal(spath, "");
}

static void fcreate_writes(void **state)
{
    (void)state;
    char p[128], buf[64];
    in_dir(p, sizeof(p), "report.txt");
    FILE *f = safe_file_fcreate(p, 0644);
    assert_non_null(f);
    fputs("text report", f);
    assert_int_equal(fclose(f), 0);
    slurp(p, buf, sizeof(buf));
    assert_string_equal(buf, "text report");
    assert_null(safe_file_fcreate(p, 0644));
    assert_int_equal(errno, EEXIST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(creates_new_file_with_mode),
        cmocka_unit_test(refuses_planted_symlink),
        cmocka_unit_test(refuses_device_node_and_folder),
        cmocka_unit_test(replace_through_temp),
        cmocka_unit_test(replace_failure_removes_temp),
        cmocka_unit_test(replace_by_descriptor),
        cmocka_unit_test(scratch_is_private),
        cmocka_unit_test(fcreate_writes),
    };
    return cmocka_run_group_tests(tests, make_dir, drop_dir);
}
