/* jobs/image_browse on a real folder tree standing in for a mounted
 * partition: the images a store holds, a folder's entries in order, and a
 * copy of marked files and folders whose bytes and sizes are checked, with
 * each file that cannot be copied named while the others go on. */
#include <errno.h>
#include <fcntl.h>
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

#include "jobs/image_browse.h"

static char top[] = "/tmp/cb-browse-XXXXXX";

static void put(const char *rel, size_t size, int seed)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc((int)((i * 31 + (size_t)seed) % 251), f);
    fclose(f);
}

static void dir(const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static bool same(const char *a, const char *b)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cmp -s '%s/%s' '%s/%s'", top, a, top, b);
    return system(cmd) == 0;
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(top))
        return -1;
    dir("store");
    put("store/a.zst", 10, 1);
    put("store/b.zst.000", 10, 2);
    put("store/b.zst.001", 10, 3);
    put("store/c.img", 10, 4);
    put("store/notes.txt", 10, 5);
    dir("store/d.zst");                 /* a folder, not an image */
    dir("part");
    dir("part/docs");
    dir("part/docs/sub");
    put("part/docs/a.txt", 1234, 6);
    put("part/docs/big.bin", 3 << 20, 7);
    put("part/docs/sub/c.txt", 0, 8);
    put("part/top.txt", 77, 9);
    char p[256];
    snprintf(p, sizeof(p), "%s/part/docs/link", top);
    if (symlink("a.txt", p) != 0)
        return -1;
    snprintf(p, sizeof(p), "%s/part/fifo", top);
    return mkfifo(p, 0644);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
    return system(cmd) == 0 ? 0 : -1;
}

static void images_in_a_store(void **state)
{
    (void)state;
    char path[256], (*v)[BROWSE_NAME_MAX];
    size_t n;
    struct cb_error err = { 0 };
    snprintf(path, sizeof(path), "%s/store", top);
    assert_int_equal(browse_find_images(path, &v, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "a.zst");
    assert_string_equal(v[1], "b.zst");     /* the split image by the name it opens under */
    assert_string_equal(v[2], "c.img");
    free(v);
    snprintf(path, sizeof(path), "%s/none", top);
    assert_int_equal(browse_find_images(path, &v, &n, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "none"));
    char d[300];
    browse_dest_folder("/s", "/x/pc1.zst", d, sizeof(d));
    assert_string_equal(d, "/s/pc1-files");
    browse_dest_folder("/s", "pc2.img", d, sizeof(d));
    assert_string_equal(d, "/s/pc2-files");
}

static void entries_folders_first(void **state)
{
    (void)state;
    char path[256];
    struct browse_entry *v;
    size_t n;
    struct cb_error err = { 0 };
    snprintf(path, sizeof(path), "%s/part/docs", top);
    assert_int_equal(browse_list(path, &v, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(v[0].name, "sub");
    assert_int_equal(v[0].kind, BROWSE_DIR);
    assert_string_equal(v[1].name, "a.txt");
    assert_int_equal(v[1].size, 1234);
    assert_string_equal(v[2].name, "big.bin");
    assert_int_equal(v[2].size, 3 << 20);
    assert_string_equal(v[3].name, "link");
    assert_int_equal(v[3].kind, BROWSE_LINK);
    free(v);
}

static struct browse_pick pick(const char *rel)
{
    struct browse_pick p = { 0 };
    snprintf(p.root, sizeof(p.root), "%s/part", top);
    snprintf(p.rel, sizeof(p.rel), "%s", rel);
    snprintf(p.into, sizeof(p.into), "p2");
    return p;
}

static void copy_checks_sizes_and_names_failures(void **state)
{
    (void)state;
    char dest[256];
    snprintf(dest, sizeof(dest), "%s/store/pc1-files", top);
    struct browse_pick picks[] = { pick("docs"), pick("top.txt"), pick("fifo") };
    struct browse_progress p = { 0 };
    struct browse_result r;
    struct cb_error err = { 0 };
    assert_int_equal(browse_copy_run(picks, 3, dest, &p, &r, &err), 0);
    assert_int_equal(r.files_listed, 5);            /* a.txt big.bin link c.txt top.txt */
    assert_int_equal(r.files_copied, 5);
    assert_int_equal(r.bytes_listed, 1234 + (3 << 20) + 77);
    assert_int_equal(r.bytes_copied, r.bytes_listed);
    assert_int_equal(atomic_load(&p.bytes_done), r.bytes_listed);
    assert_int_equal(r.nfailed, 1);                 /* the pipe, by name */
    assert_non_null(strstr(r.failed[0], "p2/fifo: not copied"));
    assert_false(r.cancelled);
    browse_result_free(&r);
    assert_true(same("part/docs/big.bin", "store/pc1-files/p2/docs/big.bin"));
    assert_true(same("part/docs/a.txt", "store/pc1-files/p2/docs/a.txt"));
    assert_true(same("part/docs/sub/c.txt", "store/pc1-files/p2/docs/sub/c.txt"));
    assert_true(same("part/top.txt", "store/pc1-files/p2/top.txt"));
    char link[300], target[64] = "";
    snprintf(link, sizeof(link), "%s/p2/docs/link", dest);
    assert_int_equal(readlink(link, target, sizeof(target) - 1), 5);
    assert_string_equal(target, "a.txt");

    /* Again: what is there already is never overwritten, each file named. */
    struct browse_pick again[] = { pick("docs/a.txt"), pick("docs/sub") };
    assert_int_equal(browse_copy_run(again, 2, dest, &p, &r, &err), 0);
    assert_int_equal(r.files_copied, 0);
    assert_int_equal(r.nfailed, 2);
    assert_non_null(strstr(r.failed[0], "p2/docs/a.txt: not copied"));
    assert_non_null(strstr(r.failed[0], "there already"));
    assert_non_null(strstr(r.failed[1], "p2/docs/sub/c.txt: not copied"));
    browse_result_free(&r);

    /* A copy stopped: no partial file is left. */
    snprintf(dest, sizeof(dest), "%s/store/stopped", top);
    struct browse_progress stop = { 0 };
    atomic_store(&stop.cancel, true);
    struct browse_pick one[] = { pick("docs/big.bin") };
    assert_int_equal(browse_copy_run(one, 1, dest, &stop, &r, &err), 0);
    assert_true(r.cancelled);
    assert_int_equal(r.files_copied, 0);
    browse_result_free(&r);
    char gone[300];
    snprintf(gone, sizeof(gone), "%s/p2/docs/big.bin", dest);
    assert_int_not_equal(access(gone, F_OK), 0);
}

static void copy_in_a_thread(void **state)
{
    (void)state;
    char dest[256];
    snprintf(dest, sizeof(dest), "%s/store/thread", top);
    struct browse_pick picks[] = { pick("docs") };
    struct browse_copy *c;
    struct cb_error err = { 0 };
    assert_int_equal(browse_copy_start(picks, 1, dest, &c, &err), 0);
    while (!browse_copy_done(c))
        usleep(1000);
    struct browse_result r;
    assert_int_equal(browse_copy_finish(c, false, &r, &err), 0);
    assert_int_equal(r.files_copied, 4);
    assert_int_equal(r.nfailed, 0);
    browse_result_free(&r);
    assert_true(same("part/docs/big.bin", "store/thread/p2/docs/big.bin"));
    /* A store where a file has the folder's name: refused before anything is copied. */
    snprintf(dest, sizeof(dest), "%s/store/c.img/x", top);
    struct browse_progress p = { 0 };
    assert_int_equal(browse_copy_run(picks, 1, dest, &p, &r, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, "c.img"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(images_in_a_store),
        cmocka_unit_test(entries_folders_first),
        cmocka_unit_test(copy_checks_sizes_and_names_failures),
        cmocka_unit_test(copy_in_a_thread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
