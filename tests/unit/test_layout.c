/* Partition layouts: tables made by sgdisk and parted in files, read back,
 * fitted to other sizes, written, and judged by sgdisk -v / parted again. */
#include "clone/io.h"
#include "clone/layout.h"
#include "clone/resize_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include "tests/unit/unit_sh.h"

#define MiB (1ull << 20)

static char dir[] = "/tmp/cb-layout-XXXXXX";

static int read_file(void *ctx, void *buf, size_t len, uint64_t off)
{
    return pread(*(int *)ctx, buf, len, (off_t)off) == (ssize_t)len ? 0 : -EIO;
}


/* A 512 MiB GPT: EFI 64M, root 256M, swap 32M, data 100M. */
static void gpt_source(char *path, struct layout *l)
{
    snprintf(path, 256, "%s/gpt.img", dir);
    assert_int_equal(sh("rm -f %s; truncate -s 512M %s && sgdisk -n1:1M:+64M -t1:ef00 -c1:EFI -n2:0:+256M -t2:8300 "
                        "-n3:0:+32M -t3:8200 -n4:0:+100M -t4:0700 %s >/dev/null", path, path, path), 0);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct cb_error err = { 0 };
    assert_int_equal(layout_read(l, read_file, &fd, path, 512 * MiB, 512, &err), 0);
    close(fd);
}

static void gpt_read_and_grow(void **state)
{
    (void)state;
    char path[256];
    struct layout *l = calloc(1, sizeof(*l));
    gpt_source(path, l);
    assert_int_equal(l->kind, LAYOUT_GPT);
    assert_int_equal(l->nparts, 4);
    assert_int_equal(l->parts[0].start, MiB);
    assert_string_equal(l->parts[0].type, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    assert_string_equal(l->parts[1].type, "0fc63daf-8483-4772-8e79-3d69d8477de4");
    l->parts[1].fit = FIT_ANY, l->parts[1].min_size = 100 * MiB;
    l->parts[2].fit = FIT_ANY, l->parts[2].min_size = MiB;
    l->parts[3].fit = FIT_GROW;
    struct cb_error err = { 0 };
    assert_int_equal(layout_plan(l, 1024 * MiB, RESIZE_AUTO, "t", &err), 0);
    assert_int_equal(l->parts[0].new_start, MiB);               /* EFI: fixed, in place */
    assert_int_equal(l->parts[0].new_size, 64 * MiB);
    assert_true(l->parts[1].new_size > 2 * 256 * MiB - 16 * MiB);   /* ~doubled */
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(l->parts[i].new_start % MiB, 0);
        if (i)
            assert_true(l->parts[i].new_start >= l->parts[i - 1].new_start + l->parts[i - 1].new_size);
    }
    /* The last takes what is left, short of the GPT backup. */
    assert_int_equal(l->parts[3].new_start + l->parts[3].new_size, 1024 * MiB - layout_tail_bytes(l));
    assert_true(layout_changes(l));
    /* Written to a file of that size, sgdisk finds nothing wrong, and it reads back. */
    char out[300];
    snprintf(out, sizeof(out), "%s/grown.img", dir);
    assert_int_equal(sh("truncate -s 1G %s", out), 0);
    struct io_dev t = { .fd = open(out, O_RDWR), .sector = 512, .size = 1024 * MiB };
    snprintf(t.path, sizeof(t.path), "%s", out);
    assert_int_equal(layout_write(l, &t, &err), 0);
    assert_int_equal(sh("sgdisk -v %s | grep -q 'No problems found'", out), 0);
    struct layout *back = calloc(1, sizeof(*back));
    assert_int_equal(layout_read(back, read_file, &t.fd, out, 1024 * MiB, 512, &err), 0);
    assert_int_equal(back->nparts, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(back->parts[i].start, l->parts[i].new_start);
        assert_int_equal(back->parts[i].size, l->parts[i].new_size);
        assert_string_equal(back->parts[i].type, l->parts[i].type);
    }
    close(t.fd);
    layout_free(back);
    layout_free(l);
    free(back);
    free(l);
}

static void refusals_name_the_partition(void **state)
{
    (void)state;
    char path[256];
    struct layout *l = calloc(1, sizeof(*l));
    gpt_source(path, l);
    l->parts[1].fit = FIT_GROW;         /* a raw copy of root cannot shrink */
    struct cb_error err = { 0 };
    assert_int_equal(layout_plan(l, 300 * MiB, RESIZE_PROPORTIONAL, "/dev/sdz", &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "/dev/sdz"));
    assert_non_null(strstr(err.msg, "partition #"));
    /* keep: the last partition ends past a smaller disk. */
    assert_int_equal(layout_plan(l, 400 * MiB, RESIZE_KEEP, "/dev/sdz", &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "partition #4 ends at"));
    layout_free(l);
    free(l);
}

static void mbr_logicals_move_with_their_ebrs(void **state)
{
    (void)state;
    char path[256], out[300];
    snprintf(path, sizeof(path), "%s/mbr.img", dir);
    assert_int_equal(sh("truncate -s 300M %s && parted -s %s mklabel msdos mkpart primary ext4 1MiB 100MiB "
                        "mkpart extended 100MiB 299MiB mkpart logical ext4 101MiB 200MiB "
                        "mkpart logical ext4 201MiB 299MiB", path, path), 0);
    int fd = open(path, O_RDONLY);
    struct layout *l = calloc(1, sizeof(*l));
    struct cb_error err = { 0 };
    assert_int_equal(layout_read(l, read_file, &fd, path, 300 * MiB, 512, &err), 0);
    close(fd);
    assert_int_equal(l->kind, LAYOUT_MBR);
    assert_int_equal(l->nparts, 4);
    assert_true(l->parts[1].extended);
    assert_int_equal(l->parts[2].number, 5);
    assert_int_equal(l->parts[3].number, 6);
    for (size_t i = 0; i < l->nparts; i++)
        l->parts[i].fit = FIT_GROW;
    assert_int_equal(layout_plan(l, 600 * MiB, RESIZE_PROPORTIONAL, "t", &err), 0);
    assert_int_equal(l->parts[2].new_ebr, l->parts[1].new_start);  /* first EBR opens the extended one */
    assert_int_equal(l->parts[1].new_start + l->parts[1].new_size, l->parts[3].new_start + l->parts[3].new_size);
    snprintf(out, sizeof(out), "%s/mbr-big.img", dir);
    assert_int_equal(sh("truncate -s 600M %s", out), 0);
    struct io_dev t = { .fd = open(out, O_RDWR), .sector = 512, .size = 600 * MiB };
    snprintf(t.path, sizeof(t.path), "%s", out);
    assert_int_equal(layout_write(l, &t, &err), 0);
    close(t.fd);
    /* parted reads the chain back: 1, 2, 5, 6, ending where planned. */
    char cmd[600], line[256], seen[64] = "";
    snprintf(cmd, sizeof(cmd), "parted -s -m %s unit B print | cut -d: -f1,3", out);
    FILE *p = popen(cmd, "r");
    while (fgets(line, sizeof(line), p))
        if (line[0] >= '1' && line[0] <= '9' && strchr(line, ':') && !strstr(line, "/"))
            strncat(seen, line, sizeof(seen) - strlen(seen) - 1);
    pclose(p);
    char want[64];
    snprintf(want, sizeof(want), "1:%lluB\n2:%lluB\n5:%lluB\n6:%lluB\n",
             (unsigned long long)(l->parts[0].new_start + l->parts[0].new_size - 1),
             (unsigned long long)(l->parts[1].new_start + l->parts[1].new_size - 1),
             (unsigned long long)(l->parts[2].new_start + l->parts[2].new_size - 1),
             (unsigned long long)(l->parts[3].new_start + l->parts[3].new_size - 1));
    assert_string_equal(seen, want);
    layout_free(l);
    free(l);
}

static void remap_finds_extents(void **state)
{
    (void)state;
    struct io_extent e[] = { { 0, MiB, 0 }, { 2 * MiB, 10 * MiB, 5 * MiB } };
    struct io_remap m = { e, 2 };
    uint64_t dst, run;
    assert_int_equal(io_remap_find(&m, 4096, &dst, &run), 0);
    assert_int_equal(dst, 4096);
    assert_int_equal(run, MiB - 4096);
    assert_int_equal(io_remap_find(&m, 3 * MiB, &dst, &run), 0);
    assert_int_equal(dst, 6 * MiB);
    assert_int_equal(run, 9 * MiB);
    assert_int_equal(io_remap_find(&m, MiB, &dst, &run), -ERANGE);          /* the gap */
    assert_int_equal(io_remap_find(&m, 12 * MiB, &dst, &run), -ERANGE);     /* past the end */
}

/* One plan for targets of two sizes: the same source ranges for both, each
 * to its own places; ext4 shrinks on the smaller one, so (its used blocks
 * known) it is shrunk once in a scratch file to the least it gets. */
static void resize_plan_two_targets(void **state)
{
    (void)state;
    char path[256];
    struct layout *l = calloc(1, sizeof(*l));
    gpt_source(path, l);
    snprintf(l->parts[1].fstype, sizeof(l->parts[1].fstype), "ext4");
    l->parts[1].fit = FIT_ANY, l->parts[1].min_size = 100 * MiB;
    snprintf(l->parts[2].fstype, sizeof(l->parts[2].fstype), "swap");
    l->parts[2].fit = FIT_ANY, l->parts[2].min_size = MiB;
    l->parts[3].fit = FIT_GROW;
    const uint64_t sizes[] = { 400 * MiB, 1024 * MiB };
    const char *names[] = { "small", "large" };
    struct resize_plan plan;
    struct cb_error err = { 0 };
    assert_int_equal(resize_plan_make(l, sizes, names, 2, RESIZE_PROPORTIONAL, true, &plan, &err), 0);
    assert_int_equal(plan.ntargets, 2);
    assert_int_equal(plan.nscratch, 1);
    assert_int_equal(plan.scratch[0].part, 1);
    uint64_t small = plan.targets[0].l.parts[1].new_size, large = plan.targets[1].l.parts[1].new_size;
    assert_true(small < l->parts[1].size && large > l->parts[1].size);
    assert_int_equal(plan.scratch[0].size, small);
    const struct io_remap *a = &plan.targets[0].remap, *b = &plan.targets[1].remap;
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->n, 4);          /* the table head, EFI, swap, data: ext4 comes from its scratch file */
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->ext[i].src, b->ext[i].src);     /* one read of the source serves both */
        assert_int_equal(a->ext[i].len, b->ext[i].len);
    }
    assert_int_equal(a->ext[3].dst, plan.targets[0].l.parts[3].new_start);
    assert_int_equal(b->ext[3].dst, plan.targets[1].l.parts[3].new_start);
    resize_plan_free(&plan);
    /* A raw copy: no scratch file; the ext4's bytes are copied as far as the least plan gives it. */
    assert_int_equal(resize_plan_make(l, sizes, names, 2, RESIZE_PROPORTIONAL, false, &plan, &err), 0);
    assert_int_equal(plan.nscratch, 0);
    assert_int_equal(plan.targets[0].remap.n, 5);
    assert_int_equal(plan.targets[0].remap.ext[2].len, plan.targets[0].l.parts[1].new_size);
    resize_plan_free(&plan);
    /* A target that cannot hold it is named. */
    const uint64_t tiny[] = { 1024 * MiB, 100 * MiB };
    assert_int_equal(resize_plan_make(l, tiny, names, 2, RESIZE_PROPORTIONAL, true, &plan, &err), -ENOSPC);
    assert_int_equal(plan.refused, 1);
    assert_non_null(strstr(err.msg, "large"));
    resize_plan_free(&plan);
    layout_free(l);
    free(l);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpt_read_and_grow),
        cmocka_unit_test(refusals_name_the_partition),
        cmocka_unit_test(mbr_logicals_move_with_their_ebrs),
        cmocka_unit_test(remap_finds_extents),
        cmocka_unit_test(resize_plan_two_targets),
    };
    int rc = cmocka_run_group_tests_name("layout", tests, NULL, NULL);
    sh("rm -rf %s", dir);
    return rc;
}
