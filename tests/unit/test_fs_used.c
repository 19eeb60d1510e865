/* Unit tests for clone/fs's used-blocks trust check: the ext superblock and FAT
 * boot sector fields that say a filesystem's bitmaps may be stale, read from
 * small files built here at an offset, as a partition would be. (NTFS dirty
 * volumes are covered by tests/integration/untrusted_fs.sh: they need a real
 * $MFT.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "clone/fs/fs.h"

#define PART_AT 8192u       /* where the "partition" starts in the file */

static char path[64];

static int make_file(void **state)
{
    (void)state;
    snprintf(path, sizeof(path), "/tmp/cb-fs-used.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, 1 << 20) != 0)
        return -1;
    close(fd);
    return 0;
}

static int drop_file(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void put(uint64_t at, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)(PART_AT + at), SEEK_SET), 0);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

static void le16(unsigned char *p, unsigned v) { p[0] = v & 0xFF, p[1] = v >> 8 & 0xFF; }
static void le32(unsigned char *p, uint32_t v) { le16(p, v & 0xFFFF), le16(p + 2, v >> 16); }

/* An ext superblock with the given s_state and incompat features. */
static void ext_super(unsigned state, uint32_t incompat)
{
    unsigned char sb[1024] = { 0 };
    le16(sb + 0x38, 0xEF53);
    le16(sb + 0x3A, state);
    le32(sb + 0x5C, 0x4);               /* has_journal */
    le32(sb + 0x60, incompat | 0x2);    /* filetype */
    put(1024, sb, sizeof(sb));
}

static int trusted(const char *fstype, char *why, size_t len)
{
    return fs_used_trusted(path, PART_AT, (1 << 20) - PART_AT, fstype, why, len);
}

static void ext_states(void **state)
{
    (void)state;
    char why[300];
    ext_super(0x1, 0);
    assert_int_equal(trusted("ext4", why, sizeof(why)), 1);
    assert_string_equal(why, "");
    ext_super(0x1, 0x4);                /* needs_recovery */
    assert_int_equal(trusted("ext4", why, sizeof(why)), 0);
    assert_non_null(strstr(why, "its journal needs recovery"));
    ext_super(0x0, 0);                  /* mounted, or cut off, without a journal to replay */
    assert_int_equal(trusted("ext2", why, sizeof(why)), 0);
    assert_non_null(strstr(why, "not unmounted cleanly"));
    ext_super(0x3, 0);
    assert_int_equal(trusted("ext3", why, sizeof(why)), 0);
    assert_non_null(strstr(why, "records errors"));
    /* fs_used_mark gives the same answer and marks nothing */
    ext_super(0x1, 0x4);
    struct block_map m;
    assert_int_equal(map_init(&m, 1 << 20, MAP_NONTRIED), 0);
    assert_int_equal(fs_used_mark(path, PART_AT, (1 << 20) - PART_AT, "ext4", &m, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "its journal needs recovery"));
    assert_true(map_bytes(&m, MAP_FINISHED) == 0);
    map_free(&m);
    /* no ext magic: not this check's business (ext_used reports it) */
    unsigned char zero[1024] = { 0 };
    put(1024, zero, sizeof(zero));
    assert_int_equal(trusted("ext4", why, sizeof(why)), 1);
    /* filesystems without a trust check */
    assert_int_equal(trusted("swap", why, sizeof(why)), 1);
}

/* A FAT16 (fat32 false) or FAT32 boot sector, its dirty bit as given, and FAT
 * entry 1 as given. */
static void fat_volume(bool fat32, bool dirty, uint32_t entry1)
{
    unsigned char bs[512] = { 0 }, fat[8] = { 0xF8, 0xFF, 0xFF, 0x0F };
    le16(bs + 11, 512);
    bs[13] = 4;                         /* sectors per cluster */
    le16(bs + 14, fat32 ? 32 : 1);      /* reserved sectors */
    bs[16] = 2;
    le16(bs + 17, fat32 ? 0 : 512);     /* root entries */
    le32(bs + 32, fat32 ? 300000 : 65536);
    if (fat32)
        le32(bs + 36, 600);
    else
        le16(bs + 22, 64);
    bs[fat32 ? 65 : 37] = dirty ? 0x01 : 0;
    bs[510] = 0x55, bs[511] = 0xAA;
    if (fat32)
        le32(fat + 4, entry1);
    else
        le16(fat + 2, (unsigned)entry1);
    put(0, bs, sizeof(bs));
    put((fat32 ? 32 : 1) * 512, fat, sizeof(fat));
}

static void fat_bits(void **state)
{
    (void)state;
    char why[300];
    fat_volume(false, false, 0xFFFF);
    assert_int_equal(trusted("vfat", why, sizeof(why)), 1);
    fat_volume(false, true, 0xFFFF);    /* Linux's dirty bit */
    assert_int_equal(trusted("vfat", why, sizeof(why)), 0);
    assert_non_null(strstr(why, "dirty bit is set"));
    fat_volume(false, false, 0x7FFF);   /* Windows' clean-shutdown bit clear */
    assert_int_equal(trusted("vfat", why, sizeof(why)), 0);
    assert_non_null(strstr(why, "clean-shutdown bit"));
    fat_volume(true, false, 0x0FFFFFFF);
    assert_int_equal(trusted("vfat", why, sizeof(why)), 1);
    fat_volume(true, true, 0x0FFFFFFF);
    assert_int_equal(trusted("vfat", why, sizeof(why)), 0);
    fat_volume(true, false, 0x07FFFFFF);
    assert_int_equal(trusted("vfat", why, sizeof(why)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ext_states),
        cmocka_unit_test(fat_bits),
    };
    return cmocka_run_group_tests_name("fs-used-trust", tests, make_file, drop_file);
}
