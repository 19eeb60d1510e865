/* Unit tests for clone/fs's table: every filesystem name the station gets
 * from blkid maps to its row, an unknown one to none; on filesystems made by
 * the real mkfs tools (mke2fs, mkfs.fat, mkntfs, mkswap, xorriso,
 * cryptsetup, mkfs.btrfs, mkfs.xfs), placed 1 MiB into a disk file as a partition would be, blkid's
 * name finds the row, that row's probe of the bytes (fs_owners' sniff) gives
 * the same name and no other row claims them, and the used blocks, the least
 * size and the ext trust check read through the offset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include "tests/unit/unit_sh.h"

#include "clone/fs/fs.h"
#include "clone/fs/owners_part.h"

enum { PART = 1 << 20 };

static unsigned fs_size = 8 << 20;      /* of the filesystem being checked (sparse files) */

static char dir[64], fsimg[96], disk[96];


static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cb-fs-table.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(fsimg, sizeof(fsimg), "%s/fs.img", dir);
    snprintf(disk, sizeof(disk), "%s/disk.img", dir);
    return sh("cd %s && mkdir -p tree && echo hello > tree/a.txt && head -c 300K /dev/urandom > tree/b.bin", dir);
}

static int teardown(void **state)
{
    (void)state;
    return sh("rm -rf %s", dir);
}

/* The names the station knows (blkid's), and the row each must find. */
static void names_map_to_rows(void **state)
{
    (void)state;
    static const struct { const char *name; const struct fs_ops *ops; } known[] = {
        { "ext2", &fs_ext_ops }, { "ext3", &fs_ext_ops }, { "ext4", &fs_ext_ops }, { "vfat", &fs_fat_ops },
        { "ntfs", &fs_ntfs_ops }, { "swap", &fs_swap_ops }, { "iso9660", &fs_iso9660_ops },
        { "crypto_LUKS", &fs_luks_ops }, { "BitLocker", &fs_bitlocker_ops }, { "exfat", &fs_exfat_ops },
        { "xfs", &fs_xfs_ops }, { "btrfs", &fs_btrfs_ops },
    };
    size_t n;
    const struct fs_ops *const *all = fs_ops_all(&n);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        assert_ptr_equal(fs_ops_find(known[i].name), known[i].ops);
    /* Every row is some known name's: none is unreachable. */
    for (size_t r = 0; r < n; r++) {
        bool reached = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            reached |= known[i].ops == all[r];
        assert_true(reached);
        assert_non_null(all[r]->name);
    }
    static const char *const unknown[] = { "", "udf", "jfs", "zfs_member", "ext", "EXT4", "ext5", "ntfs3", "fat",
                                           "swap2", "iso" };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_null(fs_ops_find(unknown[i]));
        assert_false(fs_used_understood(unknown[i]));
        assert_int_equal(fs_resize_fit(unknown[i]), FIT_FIXED);
        assert_null(fs_encrypted(unknown[i]));
    }
    assert_null(fs_ops_find(NULL));
    char log[64] = "";
    struct cb_error err = { 0 };
    assert_int_equal(fs_resize_run("/nonexistent", "xfs", 1 << 20, "", "", log, sizeof(log), &err), -EOPNOTSUPP);
    assert_non_null(strstr(err.msg, "cannot resize a xfs filesystem"));
    /* What the jobs ask of the rows. */
    assert_true(fs_used_understood("ext4") && fs_used_understood("vfat") && fs_used_understood("ntfs") &&
                fs_used_understood("swap"));
    assert_false(fs_used_understood("iso9660") || fs_used_understood("crypto_LUKS"));
    assert_int_equal(fs_resize_fit("ext3"), FIT_ANY);
    assert_int_equal(fs_resize_fit("swap"), FIT_ANY);
    assert_int_equal(fs_resize_fit("iso9660"), FIT_FIXED);
    assert_string_equal(fs_encrypted("crypto_LUKS"), "LUKS-encrypted");
    assert_string_equal(fs_encrypted("BitLocker"), "BitLocker-encrypted");
    assert_true(fs_swap_ops.recreated && !fs_ext_ops.recreated);
    /* A store of images lives on what holds files, never on swap or an encrypted volume. */
    assert_true(fs_ext_ops.holds_files && fs_fat_ops.holds_files && fs_ntfs_ops.holds_files &&
                fs_exfat_ops.holds_files && fs_xfs_ops.holds_files && fs_btrfs_ops.holds_files);
    assert_false(fs_swap_ops.holds_files || fs_luks_ops.holds_files || fs_iso9660_ops.holds_files);
}

static int file_read(void *ctx, void *buf, size_t len, uint64_t off)
{
    ssize_t r = pread(*(int *)ctx, buf, len, (off_t)off);
    return r == (ssize_t)len ? 0 : -EIO;
}

/* blkid's name for what is in fsimg ("" none). */
static void blkid_type(char *out, size_t len)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "blkid -p -o value -s TYPE %s", fsimg);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    if (!fgets(out, (int)len, f))
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    pclose(f);
}

/* fsimg placed at PART in disk; the name every row's sniff gives ("" none),
 * failing when two rows claim it. */
static void sniffed(char *out, size_t len)
{
    assert_int_equal(sh("rm -f %s && truncate -s %u %s && dd if=%s of=%s bs=1M seek=1 conv=notrunc,sparse status=none",
                        disk, PART + fs_size + (1u << 20), disk, fsimg, disk), 0);
    int fd = open(disk, O_RDONLY);
    assert_true(fd >= 0);
    struct owners_part p = { .rd = file_read, .rctx = &fd, .name = disk, .off = PART, .size = fs_size };
    size_t n;
    const struct fs_ops *const *all = fs_ops_all(&n);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char name[16];
        if (all[i]->sniff && all[i]->sniff(&p, name, sizeof(name))) {
            assert_string_equal(out, "");       /* one row only */
            snprintf(out, len, "%s", name);
        }
    }
    close(fd);
}

/* Made by mkfs (cmd, with %s for the image), then: blkid's name is want, it
 * finds its row, the row's sniff agrees, and what the row can do works
 * through the offset. */
static void check_made(const char *cmd, const char *want, unsigned mib)
{
    fs_size = mib << 20;
    assert_int_equal(sh("rm -f %s && truncate -s %u %s", fsimg, fs_size, fsimg), 0);
    assert_int_equal(sh(cmd, fsimg), 0);
    char type[32], sniff[32];
    blkid_type(type, sizeof(type));
    assert_string_equal(type, want);
    const struct fs_ops *fs = fs_ops_find(type);
    assert_non_null(fs);
    sniffed(sniff, sizeof(sniff));
    if (fs->sniff)
        assert_string_equal(sniff, want);
    else
        assert_string_equal(sniff, "");
    char why[300];
    if (fs->trusted)
        assert_int_equal(fs_used_trusted(disk, PART, fs_size, type, why, sizeof(why)), 1);
    if (fs->used) {
        struct block_map m;
        assert_int_equal(map_init(&m, PART + fs_size + (1u << 20), MAP_NONTRIED), 0);
        assert_int_equal(fs_used_mark(disk, PART, fs_size, type, &m, why, sizeof(why)), 1);
        uint64_t pos, len;
        assert_true(map_find(&m, 0, "+", &pos, &len));
        assert_int_equal(pos, PART);            /* the boot area or header, from the partition's start */
        uint64_t used = map_bytes(&m, MAP_FINISHED);
        assert_true(used > 0 && used < fs_size);
        map_free(&m);
    }
    if (fs->resize && fs->min_size) {
        uint64_t min = 0;
        assert_int_equal(fs_resize_min(disk, PART, fs_size, type, "", &min), 0);
        assert_true(min > 0);
    }
}

static void mkfs_made(void **state)
{
    (void)state;
    if (sh("for t in mke2fs mkfs.fat mkntfs mkswap xorriso cryptsetup blkid debugfs mkfs.btrfs mkfs.xfs; do command -v $t || exit 1; done "
           ">/dev/null") != 0) {
        skip();
    }
    check_made("mke2fs -q -F -t ext2 %s", "ext2", 8);
    check_made("mke2fs -q -F -t ext3 %s", "ext3", 8);
    check_made("mke2fs -q -F -t ext4 %s", "ext4", 8);
    check_made("mkfs.fat %s >/dev/null", "vfat", 8);
    check_made("mkntfs -q -F -f %s >/dev/null 2>&1", "ntfs", 8);
    check_made("mkswap %s >/dev/null 2>&1", "swap", 8);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "xorriso -as mkisofs -quiet -o %%s %s/tree 2>/dev/null", dir);
    check_made(cmd, "iso9660", 8);
    /* Known by name only (their least sizes are larger); sparse files. */
    check_made("mkfs.btrfs -q -f %s >/dev/null 2>&1", "btrfs", 128);
    check_made("mkfs.xfs -q -f %s >/dev/null 2>&1", "xfs", 320);
    check_made("head -c 32 /dev/urandom > %1$s.key && cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations "
               "1000 --key-file %1$s.key %1$s", "crypto_LUKS", 8);
}

/* The ext superblock's state, set by debugfs (a real tool) and read back
 * through libext2fs at the partition's offset. */
static void ext_trust_at_offset(void **state)
{
    (void)state;
    if (sh("{ command -v mke2fs && command -v debugfs; } >/dev/null") != 0)
        skip();
    char why[300];
    fs_size = 8 << 20;
    assert_int_equal(sh("rm -f %1$s && truncate -s %2$u %1$s && mke2fs -q -F -t ext4 %1$s && "
                        "debugfs -w -R 'ssv state 0' %1$s 2>/dev/null", fsimg, fs_size), 0);
    char sniff[32];
    sniffed(sniff, sizeof(sniff));
    assert_int_equal(fs_used_trusted(disk, PART, fs_size, "ext4", why, sizeof(why)), 0);
    assert_non_null(strstr(why, "not unmounted cleanly"));
    assert_int_equal(sh("debugfs -w -R 'ssv state 1' %1$s 2>/dev/null && "
                        "debugfs -w -R 'feature needs_recovery' %1$s >/dev/null 2>&1", fsimg), 0);
    sniffed(sniff, sizeof(sniff));
    assert_int_equal(fs_used_trusted(disk, PART, fs_size, "ext4", why, sizeof(why)), 0);
    assert_non_null(strstr(why, "its journal needs recovery"));
    /* Read at the wrong offset there is no ext: not the trust check's business. */
    assert_int_equal(fs_used_trusted(disk, 0, fs_size, "ext4", why, sizeof(why)), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_map_to_rows),
        cmocka_unit_test(mkfs_made),
        cmocka_unit_test(ext_trust_at_offset),
    };
    return cmocka_run_group_tests_name("fs_table", tests, setup, teardown);
}
