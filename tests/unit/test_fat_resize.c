/* Unit tests for clone/fs/fat_resize: FAT16 and FAT32 filesystems made by
 * mkfs.fat in files, filled with mtools, shrunk and grown in place; judged
 * by fsck.fat -n, by the files read back with mtools and by the boot sector
 * the resize wrote. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "tests/unit/unit_sh.h"

#include "clone/fs/fat_resize.h"

static char dir[64], img[128];


static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cb-fat-resize.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(img, sizeof(img), "%s/fat.img", dir);
    /* The files every filesystem gets: many small ones and one of 3 MiB. */
    return sh("cd %s && mkdir -p tree/sub && for i in $(seq 60); do echo note $i > tree/n$i.txt; done && "
              "head -c 3M /dev/urandom > tree/sub/blob.bin", dir);
}

static int teardown(void **state)
{
    (void)state;
    return sh("rm -rf %s", dir);
}

static bool have_tools(void)
{
    return sh("{ command -v mkfs.fat && command -v fsck.fat && command -v mcopy; } >/dev/null") == 0;
}

/* A FAT of kib KiB made by mkfs.fat (extra options opts) in img, the tree copied in. */
static void make_fat(unsigned kib, const char *opts)
{
    assert_int_equal(sh("rm -f %s && mkfs.fat %s -C %s %u >/dev/null && mcopy -s -i %s %s/tree ::/", img, opts, img,
                        kib, img, dir), 0);
}

static uint32_t boot_field(unsigned at, unsigned width)
{
    unsigned char bs[512];
    FILE *f = fopen(img, "rb");
    assert_non_null(f);
    assert_int_equal(fread(bs, 1, sizeof(bs), f), sizeof(bs));
    fclose(f);
    uint32_t v = 0;
    for (unsigned i = width; i-- > 0;)
        v = v << 8 | bs[at + i];
    return v;
}

static uint64_t total_bytes(void)
{
    uint32_t t = boot_field(19, 2);
    return (uint64_t)(t ? t : boot_field(32, 4)) * boot_field(11, 2);
}

/* fsck.fat finds nothing to mend and the tree reads back equal. */
static void assert_clean_and_equal(void)
{
    assert_int_equal(sh("fsck.fat -n %s >%s/fsck.out 2>&1 || { cat %s/fsck.out; exit 1; }", img, dir, dir), 0);
    assert_int_equal(sh("rm -rf %s/back && mkdir %s/back && mcopy -s -i %s ::/tree %s/back/ && diff -r %s/tree "
                        "%s/back/tree", dir, dir, img, dir, dir, dir), 0);
}

static void set_size(uint64_t bytes)
{
    assert_int_equal(truncate(img, (off_t)bytes), 0);
}

static void fat32_shrink_and_grow(void **state)
{
    (void)state;
    if (!have_tools())
        skip();
    make_fat(200 * 1024, "-F 32");
    uint64_t min = 0, max = 0;
    char why[300] = "", note[300];
    assert_int_equal(fat_resize_limits(img, 0, 200u << 20, &min, &max, why, sizeof(why)), 0);
    assert_true(min > (3u << 20) && min < (40u << 20));     /* the type's 65,525 clusters, not the data */
    assert_true(max > (1ull << 30));
    struct cb_error err = { 0 };
    assert_int_equal(fat_resize_run(img, 120u << 20, note, sizeof(note), &err), 0);
    set_size(120u << 20);
    assert_int_equal(total_bytes(), 120u << 20);
    assert_clean_and_equal();
    uint32_t fatsz = boot_field(36, 4);
    /* Grown past what its FAT addressed: the FATs lengthen and the data moves up. */
    set_size(300u << 20);
    assert_int_equal(fat_resize_run(img, 300u << 20, note, sizeof(note), &err), 0);
    assert_int_equal(total_bytes(), 300u << 20);
    assert_true(boot_field(36, 4) > fatsz);
    assert_string_equal(note, "");
    assert_clean_and_equal();
    assert_int_equal(sh("fsck.fat -n %s | grep -q '/6[0-9]\\{5\\} clusters'", img), 0);
}

static void fat32_refused_when_too_full(void **state)
{
    (void)state;
    if (!have_tools())
        skip();
    make_fat(100 * 1024, "-F 32");
    assert_int_equal(sh("head -c 60M /dev/urandom > %s/big && mcopy -i %s %s/big ::/big", dir, img, dir), 0);
    assert_int_equal(sh("sha256sum < %s > %s/before", img, dir), 0);
    uint64_t min = 0, max = 0;
    char why[300] = "", note[300];
    assert_int_equal(fat_resize_limits(img, 0, 100u << 20, &min, &max, why, sizeof(why)), 0);
    assert_true(min > (63u << 20) && min < (100u << 20));
    struct cb_error err = { 0 };
    assert_int_equal(fat_resize_run(img, 50u << 20, note, sizeof(note), &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "more than the"));
    assert_non_null(strstr(err.msg, img));
    assert_int_equal(sh("sha256sum < %s | cmp -s - %s/before", img, dir), 0);     /* nothing written */
}

/* mkfs.fat, the tree, then a big file, then the tree again in a folder, then
 * the big file deleted: the second tree (its directories too) lies past
 * where the shrunk filesystem ends, and must move down. */
static void fragmented(unsigned kib, const char *opts, unsigned big_mib)
{
    make_fat(kib, opts);
    assert_int_equal(sh("head -c %uM /dev/urandom > %s/big && mcopy -i %s %s/big ::/big && mmd -i %s ::/late && "
                        "mcopy -s -i %s %s/tree ::/late/ && mdel -i %s ::/big", big_mib, dir, img, dir, img, img, dir,
                        img), 0);
}

/* The first cluster of the late tree's folder and of its big file lie past cluster n. */
static void assert_late_past(unsigned n)
{
    assert_int_equal(sh("for f in ::/late ::/late/tree/sub/blob.bin; do mshowfat -i %s $f | grep -o '<[0-9]*' | "
                        "tr -d '<' | awk '$1 <= %u {exit 1}' || exit 1; done", img, n), 0);
}

static void assert_late_tree_equal(void)
{
    assert_int_equal(sh("rm -rf %s/late && mkdir %s/late && mcopy -s -i %s ::/late/tree %s/late/ && diff -r %s/tree "
                        "%s/late/tree", dir, dir, img, dir, dir, dir), 0);
}

/* A fragmented FAT of kib KiB (big_mib deleted) shrunk to mib MiB, below its
 * late tree: that tree must move down (its clusters of csize bytes lie past). */
static void shrink_fragmented(unsigned kib, const char *opts, unsigned big_mib, unsigned mib, unsigned csize)
{
    if (!have_tools())
        skip();
    fragmented(kib, opts, big_mib);
    assert_late_past((mib << 20) / csize);
    char note[300];
    struct cb_error err = { 0 };
    assert_int_equal(fat_resize_run(img, (uint64_t)mib << 20, note, sizeof(note), &err), 0);
    set_size((uint64_t)mib << 20);
    assert_int_equal(total_bytes(), (uint64_t)mib << 20);
    assert_clean_and_equal();
    assert_late_tree_equal();
}

static void fat32_moves_clusters_down(void **state)
{
    (void)state;
    shrink_fragmented(100 * 1024, "-F 32", 60, 40, 512);
}

static void fat16_moves_clusters_down(void **state)
{
    (void)state;
    shrink_fragmented(64 * 1024, "-F 16 -s 4", 40, 20, 2048);
}

static void fat16_shrink_grow_and_cap(void **state)
{
    (void)state;
    if (!have_tools())
        skip();
    make_fat(64 * 1024, "-F 16 -s 4");        /* 2 KiB clusters: a FAT16 of them ends at 128 MiB */
    uint64_t min = 0, max = 0;
    char why[300] = "", note[300];
    assert_int_equal(fat_resize_limits(img, 0, 64u << 20, &min, &max, why, sizeof(why)), 0);
    assert_true(min >= 4085u * 2048 && min < (12u << 20));
    assert_true(max > (127u << 20) && max < (129u << 20));
    struct cb_error err = { 0 };
    assert_int_equal(fat_resize_run(img, 24u << 20, note, sizeof(note), &err), 0);
    set_size(24u << 20);
    assert_int_equal(total_bytes(), 24u << 20);
    assert_clean_and_equal();
    /* Below 4,085 clusters it would read as FAT12: refused. */
    assert_int_equal(fat_resize_run(img, 6u << 20, note, sizeof(note), &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "fewer than a FAT16 may have"));
    /* Grown onto 200 MiB: as far as FAT16 addresses, and said so. */
    set_size(200u << 20);
    assert_int_equal(fat_resize_run(img, 200u << 20, note, sizeof(note), &err), 1);
    assert_non_null(strstr(note, "FAT16"));
    assert_non_null(strstr(note, "at most"));
    assert_int_equal(total_bytes(), max);
    assert_clean_and_equal();
}

/* FAT12 (12-bit entries, two to three bytes): grown as far as its 4,084
 * clusters reach, then shrunk below where its files lie. */
static void fat12_grow_capped_and_shrink(void **state)
{
    (void)state;
    if (!have_tools())
        skip();
    make_fat(4 * 1024, "-F 12 -s 4");
    char note[300];
    struct cb_error err = { 0 };
    set_size(16u << 20);
    assert_int_equal(fat_resize_run(img, 16u << 20, note, sizeof(note), &err), 1);
    assert_non_null(strstr(note, "FAT12"));
    assert_true(total_bytes() > (7u << 20) && total_bytes() < (9u << 20));
    assert_clean_and_equal();
    assert_int_equal(fat_resize_run(img, 5u << 20, note, sizeof(note), &err), 0);
    set_size(5u << 20);
    assert_int_equal(total_bytes(), 5u << 20);
    assert_clean_and_equal();
}

static void not_a_fat(void **state)
{
    (void)state;
    assert_int_equal(sh("rm -f %s && truncate -s 8M %s", img, img), 0);
    uint64_t min, max;
    char why[300] = "", note[300];
    assert_int_equal(fat_resize_limits(img, 0, 8u << 20, &min, &max, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "is not one clonebay can resize"));
    struct cb_error err = { 0 };
    assert_int_equal(fat_resize_run(img, 4u << 20, note, sizeof(note), &err), -EINVAL);
    assert_non_null(strstr(err.msg, img));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fat32_shrink_and_grow),
        cmocka_unit_test(fat32_refused_when_too_full),
        cmocka_unit_test(fat32_moves_clusters_down),
        cmocka_unit_test(fat16_moves_clusters_down),
        cmocka_unit_test(fat16_shrink_grow_and_cap),
        cmocka_unit_test(fat12_grow_capped_and_shrink),
        cmocka_unit_test(not_a_fat),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
