/* Unit tests for devices/: parsers, classification, and a whole bench PC read
 * from a saved sysfs/udev tree (tests/fixtures/make-bench-sysroot, path in
 * CB_BENCH_SYSROOT) so the results do not depend on this machine's drives. */
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

#include "devices/dev_identity.h"
#include "devices/dev_partitions.h"
#include "devices/dev_props.h"
#include "devices/dev_safety.h"
#include "devices/dev_scan.h"

static void mountinfo_lines(void **state)
{
    (void)state;
    struct dev_mount m;
    assert_int_equal(dev_mountinfo_parse_line(
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n", &m), 0);
    assert_int_equal(m.major, 98);
    assert_int_equal(m.minor, 0);
    assert_string_equal(m.target, "/mnt2");
    assert_string_equal(m.source, "/dev/root");
    assert_string_equal(m.fstype, "ext3");
    assert_true(m.rw);
    /* the superblock's options decide: a read-only bind of a writable filesystem still changes */
    assert_int_equal(dev_mountinfo_parse_line("41 22 8:2 / /srv/ro ro,relatime - ext4 /dev/sda2 rw,errors=remount-ro",
                                              &m), 0);
    assert_true(m.rw);
    assert_int_equal(dev_mountinfo_parse_line("42 22 8:3 / /srv/x rw,relatime - ext4 /dev/sda3 ro", &m), 0);
    assert_false(m.rw);
    assert_int_equal(dev_mountinfo_parse_line("43 22 8:4 / /srv/y rwx - ext4 /dev/sda4 rwx", &m), 0);
    assert_false(m.rw);
    /* no optional fields, escaped blanks in the mount point */
    assert_int_equal(dev_mountinfo_parse_line(
        "40 22 8:33 / /media/tech/SANDISK\\040USB rw - vfat /dev/sdc1 rw", &m), 0);
    assert_string_equal(m.target, "/media/tech/SANDISK USB");
    assert_int_equal(m.minor, 33);
    assert_int_equal(dev_mountinfo_parse_line("garbage line", &m), -EINVAL);
    assert_int_equal(dev_mountinfo_parse_line("1 2 x:y / / rw - ext4 /dev/a rw", &m), -EINVAL);
}

/* A saved tree: loop3 with partitions 1 (mounted read-only) and 2 (mounted
 * read-write), loop5 mounted whole, loop4 not mounted. */
static void put(const char *root, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void mounted_rw_ranges(void **state)
{
    (void)state;
    char root[] = "/tmp/cb-mounts.XXXXXX";
    assert_non_null(mkdtemp(root));
    put(root, "proc/self/mountinfo",
        "50 1 259:1 / /mnt/data rw,relatime - ext4 /dev/loop3p2 rw\n"
        "51 1 259:0 / /mnt/ro ro,relatime - ext4 /dev/loop3p1 ro\n"
        "52 1 7:5 / /mnt/whole\\040disk rw - ext4 /dev/loop5 rw\n"
        "53 1 0:22 / /run rw - tmpfs tmpfs rw\n");
    put(root, "sys/devices/virtual/block/loop3/dev", "7:3\n");
    put(root, "sys/devices/virtual/block/loop3/loop3p1/dev", "259:0\n");
    put(root, "sys/devices/virtual/block/loop3/loop3p1/partition", "1\n");
    put(root, "sys/devices/virtual/block/loop3/loop3p1/start", "2048\n");
    put(root, "sys/devices/virtual/block/loop3/loop3p1/size", "32768\n");
    put(root, "sys/devices/virtual/block/loop3/loop3p2/dev", "259:1\n");
    put(root, "sys/devices/virtual/block/loop3/loop3p2/partition", "2\n");
    put(root, "sys/devices/virtual/block/loop3/loop3p2/start", "34816\n");
    put(root, "sys/devices/virtual/block/loop3/loop3p2/size", "65536\n");
    put(root, "sys/dev/block/.keep", "");
    char link[512];
    snprintf(link, sizeof(link), "%s/sys/dev/block/259:0", root);
    assert_int_equal(symlink("../../devices/virtual/block/loop3/loop3p1", link), 0);
    snprintf(link, sizeof(link), "%s/sys/dev/block/259:1", root);
    assert_int_equal(symlink("../../devices/virtual/block/loop3/loop3p2", link), 0);

    struct sysfs_ctx ctx;
    sysfs_init(&ctx, root);
    char where[300];
    const uint64_t p1 = 2048 * 512ull, p2 = 34816 * 512ull, p2len = 65536 * 512ull;
    assert_int_equal(dev_mounted_rw(&ctx, 7, 3, p2, p2len, where, sizeof(where)), 1);
    assert_string_equal(where, "/dev/loop3p2 is mounted read-write on /mnt/data");
    /* a range that only overlaps partition 2's first byte, or its last */
    assert_int_equal(dev_mounted_rw(&ctx, 7, 3, p2 - 4096, 4097, where, sizeof(where)), 1);
    assert_int_equal(dev_mounted_rw(&ctx, 7, 3, p2 + p2len - 1, 4096, where, sizeof(where)), 1);
    /* partition 1 is mounted read-only; the gap after partition 2 is nobody's */
    assert_int_equal(dev_mounted_rw(&ctx, 7, 3, p1, 32768 * 512ull, where, sizeof(where)), 0);
    assert_string_equal(where, "");
    assert_int_equal(dev_mounted_rw(&ctx, 7, 3, p2 + p2len, 1 << 20, where, sizeof(where)), 0);
    /* another drive; a drive mounted whole is in use everywhere */
    assert_int_equal(dev_mounted_rw(&ctx, 7, 4, p2, p2len, where, sizeof(where)), 0);
    assert_int_equal(dev_mounted_rw(&ctx, 7, 5, 1 << 20, 4096, where, sizeof(where)), 1);
    assert_string_equal(where, "/dev/loop5 is mounted read-write on /mnt/whole disk");

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

static void kinds(void **state)
{
    (void)state;
    assert_int_equal(dev_kind_classify(DEV_BUS_SATA, true, false), DEV_KIND_HDD);
    assert_int_equal(dev_kind_classify(DEV_BUS_SATA, false, false), DEV_KIND_SSD);
    assert_int_equal(dev_kind_classify(DEV_BUS_SAS, true, false), DEV_KIND_HDD);
    assert_int_equal(dev_kind_classify(DEV_BUS_NVME, false, false), DEV_KIND_NVME);
    assert_int_equal(dev_kind_classify(DEV_BUS_USB, true, false), DEV_KIND_USB);
    assert_int_equal(dev_kind_classify(DEV_BUS_MMC, false, false), DEV_KIND_SD);
    assert_int_equal(dev_kind_classify(DEV_BUS_VIRTIO, true, false), DEV_KIND_VIRTUAL);
    assert_int_equal(dev_kind_classify(DEV_BUS_LOOP, false, false), DEV_KIND_LOOP);
    assert_int_equal(dev_kind_classify(DEV_BUS_SATA, true, true), DEV_KIND_OPTICAL);
    assert_string_equal(dev_kind_name(DEV_KIND_NVME), "nvme");
}

static void buses(void **state)
{
    (void)state;
    struct dev_props p;
    dev_props_init(&p);
    assert_int_equal(dev_bus_detect("sdc", "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/x/block/sdc", &p),
                     DEV_BUS_USB);
    assert_int_equal(dev_bus_detect("sda", "/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/x/block/sda", &p),
                     DEV_BUS_SATA);
    assert_int_equal(dev_bus_detect("sdd", "/sys/devices/pci0/host7/port-7:0/end_device-7:0/x/block/sdd", &p),
                     DEV_BUS_SAS);
    assert_int_equal(dev_bus_detect("nvme1n1", "", &p), DEV_BUS_NVME);
    assert_int_equal(dev_bus_detect("mmcblk0", "", &p), DEV_BUS_MMC);
    assert_int_equal(dev_bus_detect("vda", "/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda", &p),
                     DEV_BUS_VIRTIO);
    assert_int_equal(dev_bus_detect("loop4", "/sys/devices/virtual/block/loop4", &p), DEV_BUS_LOOP);
    /* udev's ID_BUS wins over a path that says nothing */
    dev_props_set(&p, "ID_BUS", "usb");
    assert_int_equal(dev_bus_detect("sde", "/sys/devices/platform/x/block/sde", &p), DEV_BUS_USB);
    dev_props_free(&p);
}

static void props_decode(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(dev_props_decode("WDC\\x20WD10EZEX\\x20\\x20\\x20", b, sizeof(b)), "WDC WD10EZEX");
    assert_string_equal(dev_props_decode("plain", b, sizeof(b)), "plain");
    assert_string_equal(dev_props_decode("bad\\xZZ", b, sizeof(b)), "bad\\xZZ");
    char name[32];
    dev_partition_name("sda", 2, name, sizeof(name));
    assert_string_equal(name, "sda2");
    dev_partition_name("nvme0n1", 1, name, sizeof(name));
    assert_string_equal(name, "nvme0n1p1");
    dev_partition_name("loop3", 1, name, sizeof(name));
    assert_string_equal(name, "loop3p1");
}

struct bench {
    struct dev_list list;
};

static int bench_setup(void **state)
{
    const char *root = getenv("CB_BENCH_SYSROOT");
    if (!root) {
        fprintf(stderr, "CB_BENCH_SYSROOT is not set (tests/run-all sets it)\n");
        return -1;
    }
    struct bench *b = calloc(1, sizeof(*b));
    struct dev_scan_opts opts = { .sysroot = root };
    struct cb_error err = { 0 };
    if (!b || dev_scan(&opts, &b->list, &err)) {
        fprintf(stderr, "scan of %s failed: %s\n", root, err.msg);
        free(b);
        return -1;
    }
    *state = b;
    return 0;
}

static int bench_teardown(void **state)
{
    struct bench *b = *state;
    dev_list_free(&b->list);
    free(b);
    return 0;
}

static struct dev_drive *drive(void **state, const char *name)
{
    struct bench *b = *state;
    struct dev_drive *d = dev_list_find(&b->list, name);
    if (!d)
        fail_msg("drive %s not found in the saved tree", name);
    return d;
}

static void bench_skips_internals(void **state)
{
    struct bench *b = *state;
    /* sda sdb sdc sr0 sr1 nvme0n1 loop1; no zram0, no empty loop0 */
    assert_int_equal(b->list.count, 7);
    assert_null(dev_list_find(&b->list, "zram0"));
    assert_null(dev_list_find(&b->list, "loop0"));
    assert_null(dev_list_find(&b->list, "sda1"));
}

static void bench_sata_hdd(void **state)
{
    struct dev_drive *d = drive(state, "/dev/sda");
    assert_int_equal(d->kind, DEV_KIND_HDD);
    assert_int_equal(d->bus, DEV_BUS_SATA);
    /* udev's full model, not sysfs's 16-character cut */
    assert_string_equal(d->model, "WDC WD10EZEX-08WN4A0");
    assert_string_equal(d->serial, "WD-WCC6Y3KL1234");
    assert_string_equal(d->wwn, "0x50014ee2b5c0e0a1");
    assert_string_equal(d->vendor, "");     /* "ATA" padding is not a vendor */
    assert_true(d->size == 1000204886016ULL);
    assert_int_equal(d->logical_sector, 512);
    assert_int_equal(d->physical_sector, 4096);
    assert_true(d->rotational);
    assert_false(d->removable);
    assert_string_equal(d->pttype, "gpt");
    assert_int_equal(d->npart, 2);
    assert_int_equal(d->parts[0].number, 1);
    assert_true(d->parts[0].start == 1048576);
    assert_true(d->parts[0].size == 536870912);
    assert_string_equal(d->parts[0].fstype, "vfat");
    assert_string_equal(d->parts[0].label, "EFI");
    assert_string_equal(d->parts[1].path, "/dev/sda2");
    assert_string_equal(d->parts[1].uuid, "bf997470-47c0-4940-bc2e-096c318911a8");
    assert_true(d->system);
    assert_true(d->mounted);
    assert_string_equal(d->system_why, "/dev/sda2 is mounted on /");
}

static void bench_sata_ssd(void **state)
{
    struct dev_drive *d = drive(state, "sdb");
    assert_int_equal(d->kind, DEV_KIND_SSD);
    assert_string_equal(d->model, "Samsung SSD 860 EVO 500GB");
    assert_string_equal(d->serial, "S3Z2NB0K123456A");
    assert_true(d->size == 500107862016ULL);
    assert_int_equal(d->logical_sector, 512);
    assert_int_equal(d->physical_sector, 512);
    assert_false(d->rotational);
    assert_false(d->mounted);
    assert_false(d->system);
    assert_int_equal(d->npart, 0);
}

static void bench_nvme(void **state)
{
    struct dev_drive *d = drive(state, "nvme0n1");
    assert_int_equal(d->kind, DEV_KIND_NVME);
    assert_int_equal(d->bus, DEV_BUS_NVME);
    assert_string_equal(d->model, "Samsung SSD 970 EVO Plus 1TB");
    assert_string_equal(d->serial, "S4EWNX0R123456");
    assert_string_equal(d->wwn, "eui.0025385b71b1c2d3");
    assert_true(d->size == 1000204886016ULL);
    assert_int_equal(d->npart, 1);
    assert_string_equal(d->parts[0].path, "/dev/nvme0n1p1");
    assert_string_equal(d->parts[0].fstype, "ntfs");
    assert_string_equal(d->parts[0].label, "Data");
}

static void bench_usb_stick_from_sysfs_only(void **state)
{
    struct dev_drive *d = drive(state, "sdc");
    assert_int_equal(d->kind, DEV_KIND_USB);
    assert_int_equal(d->bus, DEV_BUS_USB);
    /* no udev data for it: vendor/model from sysfs, serial from VPD page 0x80 */
    assert_string_equal(d->vendor, "SanDisk");
    assert_string_equal(d->model, "Ultra");
    assert_string_equal(d->serial, "4C530001230321118094");
    assert_true(d->size == 15376318464ULL);
    assert_true(d->removable);
    assert_true(d->mounted);
    assert_false(d->system);
    assert_string_equal(d->mounted_why, "/dev/sdc1 is mounted on /media/tech/SANDISK USB");
}

static void bench_optical_with_disc(void **state)
{
    struct dev_drive *d = drive(state, "sr0");
    assert_int_equal(d->kind, DEV_KIND_OPTICAL);
    assert_true(d->is_optical);
    assert_string_equal(d->model, "DVD+-RW GH24NSD1");
    assert_string_equal(d->vendor, "HL-DT-ST");
    assert_string_equal(d->serial, "K1XF8KD1234");
    assert_int_equal(d->logical_sector, 2048);
    assert_true(d->optical.media);
    assert_false(d->optical.blank);
    assert_string_equal(d->optical.media_type, "dvd");
    assert_int_equal(d->optical.data_tracks, 1);
    assert_true(d->size == 4481613824ULL);
    assert_string_equal(d->fstype, "iso9660");
    assert_string_equal(d->label, "ARCHIVE_2019");
}

static void bench_optical_without_disc(void **state)
{
    struct dev_drive *d = drive(state, "sr1");
    assert_int_equal(d->kind, DEV_KIND_OPTICAL);
    assert_string_equal(d->model, "BD-RE BH16NS40");
    assert_string_equal(d->serial, "KZVE1234");
    assert_false(d->optical.media);
    assert_string_equal(d->optical.media_type, "");
    assert_true(d->size == 0);
}

static void bench_loop_with_file(void **state)
{
    struct dev_drive *d = drive(state, "loop1");
    assert_int_equal(d->kind, DEV_KIND_LOOP);
    assert_string_equal(d->backing_file, "/srv/images/golden.img");
    assert_true(d->size == 104857600);
}

int main(void)
{
    const struct CMUnitTest parsers[] = {
        cmocka_unit_test(mountinfo_lines),
        cmocka_unit_test(mounted_rw_ranges),
        cmocka_unit_test(kinds),
        cmocka_unit_test(buses),
        cmocka_unit_test(props_decode),
    };
    const struct CMUnitTest bench[] = {
        cmocka_unit_test(bench_skips_internals),
        cmocka_unit_test(bench_sata_hdd),
        cmocka_unit_test(bench_sata_ssd),
        cmocka_unit_test(bench_nvme),
        cmocka_unit_test(bench_usb_stick_from_sysfs_only),
        cmocka_unit_test(bench_optical_with_disc),
        cmocka_unit_test(bench_optical_without_disc),
        cmocka_unit_test(bench_loop_with_file),
    };
    int failed = cmocka_run_group_tests_name("devices-parsers", parsers, NULL, NULL);
    failed += cmocka_run_group_tests_name("devices-saved-bench", bench, bench_setup, bench_teardown);
    return failed;
}
