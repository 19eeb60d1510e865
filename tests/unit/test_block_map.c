/* Unit tests for clone/block_map: mapfiles from elsewhere (GNU ddrescue's
 * format, hand-edited, damaged or hostile) are either exactly a tiling of
 * [0, size) or refused with the file and line named; saves never follow a
 * link planted next to the map. GNU ddrescuelog, when installed, judges the
 * maps this file writes and the ones it accepts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "clone/block_map.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cb-map-test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* map_load of text; on refusal, err.msg must name line (when line > 0). */
static int load(struct block_map *m, const char *text, int line, struct cb_error *err)
{
    const char *path = write_file("t.map", text);
    *err = (struct cb_error){ 0 };
    int rc = map_load(m, path, err);
    if (rc) {
        assert_non_null(strstr(err->msg, path));
        if (line > 0) {
            char want[32];
            snprintf(want, sizeof(want), "line %d:", line);
            if (!strstr(err->msg, want))
                fail_msg("'%s' does not name %s", err->msg, want);
        }
    }
    return rc;
}

static bool have_ddrescuelog(void)
{
    return system("command -v ddrescuelog >/dev/null 2>&1") == 0;
}

/* ddrescuelog -t's verdict on path: true when it reads it as a mapfile. */
static bool ddrescuelog_accepts(const char *path)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "ddrescuelog -t '%s' >/dev/null 2>&1", path);
    return system(cmd) == 0;
}

/* As GNU ddrescue 1.27 writes one, comments and all. */
static const char ddrescue_map[] =
    "# Mapfile. Created by GNU ddrescue version 1.27\n"
    "# Command line: ddrescue -d /dev/sdb disk.img disk.map\n"
    "# Start time:   2026-11-30 08:00:00\n"
    "# Current time: 2026-11-30 08:01:00\n"
    "# Finished\n"
    "# current_pos  current_status  current_pass\n"
    "0x00100000     +               1\n"
    "#      pos        size  status\n"
    "0x00000000  0x00100000  +\n"
    "0x00100000  0x00000200  -\n"
    "0x00100200  0x00000E00  /\n"
    "0x00101000  0x00000400  *\n"
    "0x00101400  0x00EFEC00  ?\n";

static void ddrescue_map_accepted(void **state)
{
    (void)state;
    struct block_map m;
    struct cb_error err;
    assert_int_equal(load(&m, ddrescue_map, 0, &err), 0);
    assert_int_equal(m.count, 5);
    assert_int_equal(m.size, 16u << 20);
    assert_int_equal(m.current_pos, 1u << 20);
    assert_int_equal(m.current_status, '+');
    assert_int_equal(map_bytes(&m, MAP_BAD), 512);
    assert_int_equal(map_state_at(&m, 0x100300), MAP_NONSCRAPED);
    assert_int_equal(map_state_at(&m, (16u << 20) - 1), MAP_NONTRIED);
    map_free(&m);
    /* Decimal and octal numbers, as ddrescue's own reader (%lli) takes them. */
    assert_int_equal(load(&m, "0 ? 1\n0 512 +\n01000 0x200 -\n", 0, &err), 0);
    assert_int_equal(m.size, 1024);
    map_free(&m);
    if (have_ddrescuelog())
        assert_true(ddrescuelog_accepts(write_file("ok.map", ddrescue_map)));
}

static void overflow_refused(void **state)
{
    (void)state;
    struct block_map m;
    struct cb_error err;
    /* pos + size past 2^63 (ddrescuelog quietly clips it; a wrapped end would
     * make the next range look contiguous). */
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x7FFFFFFFFFFFF000 +\n0x7FFFFFFFFFFFF000 0x2000 -\n", 3, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "ends past"));
    /* pos + size past 2^64: it would wrap to 0xFFF. */
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x1000 +\n0x1000 0xFFFFFFFFFFFFFFFF -\n", 3, &err), -EINVAL);
    /* A size too big for any number ddrescue writes. */
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x1FFFFFFFFFFFFFFFF +\n", 2, &err), -EINVAL);
    /* Negative numbers: strtoull would turn -0x200 into 2^64 - 512. */
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x1000 +\n0x1000 -0x200 -\n", 3, &err), -EINVAL);
    assert_int_equal(load(&m, "0x0 ? 1\n-0x200 0x1000 +\n", 2, &err), -EINVAL);
}

static void gap_refused(void **state)
{
    (void)state;
    struct block_map m;
    struct cb_error err;
    const char *text = "# a map with a hole\n0x0 ? 1\n0x0 0x100000 +\n0x100200 0x200 -\n";
    assert_int_equal(load(&m, text, 4, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "gap"));
    if (have_ddrescuelog())
        assert_false(ddrescuelog_accepts(write_file("gap.map", text)));
    /* Overlapping and out of order. */
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x1000 +\n0x800 0x1000 -\n", 3, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "overlap"));
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x1000 +\n0x1000 0x1000 -\n0x0 0x1000 +\n", 4, &err), -EINVAL);
    /* Unknown or missing status, a range of nothing. */
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x1000 X\n", 2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "'X'"));
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x1000\n", 2, &err), -EINVAL);
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x1000 +\n0x1000 0 -\n", 3, &err), -EINVAL);
}

static void coverage_is_exact(void **state)
{
    (void)state;
    struct block_map m;
    struct cb_error err;
    /* Not from 0: the start of the drive is not covered (ddrescuelog takes
     * it as a domain; a resume must not). */
    assert_int_equal(load(&m, "0x0 ? 1\n0x200 0x100000 +\n", 2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "instead of 0"));
    /* No ranges at all. */
    assert_int_equal(load(&m, "# only a status line\n0x0 ? 1\n", 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no ranges"));
    /* Ranges that stop short of a drive: the map's size is where they stop,
     * exactly, for the caller to compare with the source's. */
    assert_int_equal(load(&m, "0x0 ? 1\n0x0 0x100000 +\n0x100000 0x80000 ?\n", 0, &err), 0);
    assert_int_equal(m.size, 0x180000);
    uint64_t sum = 0;
    for (size_t i = 0; i < m.count; i++) {
        assert_int_equal(m.r[i].pos, sum);
        sum += m.r[i].size;
    }
    assert_int_equal(sum, m.size);
    map_free(&m);
}

static void long_lines(void **state)
{
    (void)state;
    struct block_map m;
    struct cb_error err;
    char text[2048];
    char pad[1000];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    /* A long comment (ddrescue's command line can be) is skipped whole: its
     * tail is not read as a range. */
    snprintf(text, sizeof(text), "# Command line: %s 0x0 0x10 -\n0x0 ? 1\n0x0 0x1000 +\n", pad);
    assert_int_equal(load(&m, text, 0, &err), 0);
    assert_int_equal(m.count, 1);
    assert_int_equal(m.size, 0x1000);
    map_free(&m);
    /* A long range line is not a mapfile's. */
    snprintf(text, sizeof(text), "0x0 ? 1\n0x0 0x1000 +%s\n", pad);
    assert_int_equal(load(&m, text, 2, &err), -EINVAL);
}

static void save_round_trip(void **state)
{
    (void)state;
    struct block_map m, back;
    struct cb_error err = { 0 };
    assert_int_equal(map_init(&m, 64u << 20, MAP_NONTRIED), 0);
    assert_int_equal(map_mark(&m, 0, 1u << 20, MAP_FINISHED), 0);
    assert_int_equal(map_mark(&m, 5u << 20, 4096, MAP_BAD), 0);
    snprintf(m.source_id, sizeof(m.source_id), "serial TEST123");
    char path[128];
    snprintf(path, sizeof(path), "%s/saved.map", dir);
    assert_int_equal(map_save(&m, path, "clonebay clone a b", &err), 0);
    assert_int_equal(map_load(&back, path, &err), 0);
    assert_int_equal(back.count, m.count);
    assert_int_equal(back.size, m.size);
    for (size_t i = 0; i < m.count; i++) {
        assert_int_equal(back.r[i].pos, m.r[i].pos);
        assert_int_equal(back.r[i].size, m.r[i].size);
        assert_int_equal(back.r[i].state, m.r[i].state);
    }
    assert_string_equal(back.source_id, "serial TEST123");
    map_free(&back);
    if (have_ddrescuelog())
        assert_true(ddrescuelog_accepts(path));
    map_free(&m);
}

/* A link planted where the temporary file used to go (map.tmp), and one
 * under the map's own name: neither is followed; the map replaces the link. */
static void save_does_not_follow_links(void **state)
{
    (void)state;
    char path[128], tmp[160], victim[128], victim2[128];
    snprintf(path, sizeof(path), "%s/job.map", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    snprintf(victim2, sizeof(victim2), "%s/victim2", dir);
    write_file("victim", "precious\n");
    write_file("victim2", "precious\n");
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(symlink(victim2, path), 0);
    struct block_map m;
    struct cb_error err = { 0 };
    assert_int_equal(map_init(&m, 1u << 20, MAP_NONTRIED), 0);
    assert_int_equal(map_save(&m, path, NULL, &err), 0);
    map_free(&m);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(lstat(tmp, &st), 0);
    assert_true(S_ISLNK(st.st_mode));       /* left alone */
    char buf[32] = "";
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(i ? victim2 : victim, "r");
        assert_non_null(f);
        assert_non_null(fgets(buf, sizeof(buf), f));
        fclose(f);
        assert_string_equal(buf, "precious\n");
    }
    assert_int_equal(map_load(&m, path, &err), 0);
    assert_int_equal(m.size, 1u << 20);
    map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ddrescue_map_accepted),
        cmocka_unit_test(overflow_refused),
        cmocka_unit_test(gap_refused),
        cmocka_unit_test(coverage_is_exact),
        cmocka_unit_test(long_lines),
        cmocka_unit_test(save_round_trip),
        cmocka_unit_test(save_does_not_follow_links),
    };
    return cmocka_run_group_tests_name("block_map", tests, make_dir, remove_dir);
}
