/* Unit tests for clone/fs/owners on a FAT16 volume built here byte by byte:
 * each owner named once with its total (long names, folders, a FAT copy, the
 * root directory, free space, space outside the partition), nothing counted
 * twice or left out; a directory that contains itself and a cluster chain
 * that loops end the walk instead of hanging it; a volume with random damage
 * is looked up to the end; filesystems it cannot look into are named. ext, NTFS and ISO 9660 are judged by real tools in
 * tests/integration/bad_files.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clone/fs/owners.h"

enum {
    PART = 1 << 20,                 /* the partition's offset on the disk */
    SECTORS = 8192,                 /* 4 MiB of 512-byte sectors, one per cluster: FAT16 */
    FATSZ = 32, ROOT_SECTORS = 32,
    FIRST_DATA = 1 + 2 * FATSZ + ROOT_SECTORS,
    DISK = PART + SECTORS * 512,
};

static unsigned char *disk;

static uint64_t cluster_at(unsigned c)
{
    return PART + (uint64_t)(FIRST_DATA + c - 2) * 512;
}

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xFFFF); put16(p + 2, v >> 16); }

static void set_fat(unsigned c, unsigned next)
{
    for (int copy = 0; copy < 2; copy++)
        put16(disk + PART + 512 + (size_t)copy * FATSZ * 512 + c * 2, next);
}

static void dirent(unsigned char *e, const char *name83, unsigned attr, unsigned cluster, uint32_t size)
{
    memcpy(e, name83, 11);
    e[11] = (unsigned char)attr;
    put16(e + 26, cluster);
    put32(e + 28, size);
}

/* The VFAT entries of name (at most 26 characters) before its 8.3 entry at e + 32 * n. */
static int lfn(unsigned char *e, const char *name, const char *name83)
{
    unsigned sum = 0;
    for (int k = 0; k < 11; k++)
        sum = (((sum & 1) << 7) + (sum >> 1) + (unsigned char)name83[k]) & 0xFF;
    int len = (int)strlen(name), n = (len + 12) / 13;
    static const int at[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
    for (int i = 0; i < n; i++) {
        unsigned char *x = e + 32 * i;
        int seq = n - i;
        x[0] = (unsigned char)(seq | (i == 0 ? 0x40 : 0));
        x[11] = 0x0F;
        x[13] = (unsigned char)sum;
        for (int k = 0; k < 13; k++) {
            int ch = (seq - 1) * 13 + k;
            put16(x + at[k], ch < len ? (unsigned char)name[ch] : ch == len ? 0 : 0xFFFF);
        }
    }
    dirent(e + 32 * n, name83, 0x20, 0, 0);
    return n;
}

/* The volume: /Long file name.txt (clusters 2-4), /SUB (5) holding A.BIN (6)
 * and LOOP (itself), /CYCLE.BIN (7 -> 8 -> 7), cluster 50 in use by nobody. */
static int build(void **state)
{
    (void)state;
    disk = calloc(1, DISK);
    unsigned char *bs = disk + PART;
    bs[0] = 0xEB, bs[1] = 0x3C, bs[2] = 0x90;
    memcpy(bs + 3, "MSWIN4.1", 8);
    put16(bs + 11, 512), bs[13] = 1, put16(bs + 14, 1), bs[16] = 2, put16(bs + 17, ROOT_SECTORS * 16);
    put16(bs + 19, SECTORS), bs[21] = 0xF8, put16(bs + 22, FATSZ);
    memcpy(bs + 54, "FAT16   ", 8);
    bs[510] = 0x55, bs[511] = 0xAA;
    set_fat(0, 0xFFF8), set_fat(1, 0xFFFF);
    set_fat(2, 3), set_fat(3, 4), set_fat(4, 0xFFFF);
    set_fat(5, 0xFFFF), set_fat(6, 0xFFFF);
    set_fat(7, 8), set_fat(8, 7);
    set_fat(50, 0xFFFF);
    unsigned char *root = disk + PART + (1 + 2 * FATSZ) * 512;
    int n = lfn(root, "Long file name.txt", "LONGFI~1TXT");
    put16(root + 32 * n + 26, 2), put32(root + 32 * n + 28, 1536);
    dirent(root + 32 * (n + 1), "SUB        ", 0x10, 5, 0);
    dirent(root + 32 * (n + 2), "CYCLE   BIN", 0x20, 7, 1024);
    unsigned char *sub = disk + cluster_at(5);
    dirent(sub, ".          ", 0x10, 5, 0);
    dirent(sub + 32, "..         ", 0x10, 0, 0);
    dirent(sub + 64, "A       BIN", 0x20, 6, 100);
    dirent(sub + 96, "LOOP       ", 0x10, 5, 0);
    return 0;
}

static int release(void **state)
{
    (void)state;
    free(disk);
    return 0;
}

static int mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
    if (off > DISK || len > DISK - off)
        return -5;
    memcpy(buf, (unsigned char *)ctx + off, len);
    return 0;
}

static const struct fs_owner *find(const struct fs_owner_list *l, enum fs_owner_kind k, const char *prefix)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->v[i].kind == k && !strncmp(l->v[i].name, prefix, strlen(prefix)))
            return &l->v[i];
    return NULL;
}

static void each_owner_once(void **state)
{
    (void)state;
    struct block_map m;
    assert_int_equal(map_init(&m, DISK, MAP_FINISHED), 0);
    map_mark(&m, 4096, 512, MAP_BAD);                              /* before the partition */
    map_mark(&m, cluster_at(3), 512, MAP_BAD);                     /* the long-named file, twice */
    map_mark(&m, cluster_at(4) + 256, 256, MAP_BAD);
    map_mark(&m, cluster_at(6), 100, MAP_BAD);                     /* in a folder */
    map_mark(&m, cluster_at(8), 512, MAP_BAD);                     /* a chain that loops */
    map_mark(&m, PART + (1 + FATSZ) * 512 + 512, 512, MAP_BAD);    /* the second FAT */
    map_mark(&m, PART + (1 + 2 * FATSZ) * 512 + 1024, 512, MAP_BAD); /* the root directory */
    map_mark(&m, cluster_at(50), 512, MAP_BAD);                    /* in use, owner unknown */
    map_mark(&m, cluster_at(100), 512, MAP_BAD);                   /* free */
    struct fs_owner_part part = { 1, PART, SECTORS * 512 };
    struct fs_owner_list l;
    assert_int_equal(fs_owners_find_fn(mem_read, disk, "test disk", &part, 1, &m, &l), 0);
    uint64_t total = 0;
    for (size_t i = 0; i < l.count; i++)
        total += l.v[i].bytes;
    assert_int_equal(total, map_bytes(&m, MAP_BAD));
    assert_int_equal(l.count, 8);
    const struct fs_owner *o = find(&l, FS_OWNER_FILE, "/Long file name.txt");
    assert_non_null(o);
    assert_int_equal(o->bytes, 768);
    assert_int_equal(o->partition, 1);
    assert_string_equal(o->fstype, "vfat");
    assert_non_null(o = find(&l, FS_OWNER_FILE, "/SUB/A.BIN"));
    assert_int_equal(o->bytes, 100);
    assert_non_null(o = find(&l, FS_OWNER_FILE, "/CYCLE.BIN"));
    assert_int_equal(o->bytes, 512);
    assert_non_null(find(&l, FS_OWNER_FILE, "/ (the root directory)"));
    assert_non_null(find(&l, FS_OWNER_METADATA, "file allocation table (copy 2)"));
    assert_non_null(find(&l, FS_OWNER_UNRESOLVED, "could not be resolved"));
    assert_non_null(find(&l, FS_OWNER_FREE, "free space"));
    assert_non_null(o = find(&l, FS_OWNER_OUTSIDE, "outside every partition"));
    assert_int_equal(o->partition, 0);
    /* Sorted: partition first, then metadata before files before the rest. */
    assert_int_equal(l.v[0].kind, FS_OWNER_OUTSIDE);
    assert_int_equal(l.v[1].kind, FS_OWNER_METADATA);
    fs_owners_free(&l);
    map_free(&m);
}

/* Random bytes over the boot sector, FATs and directories: the lookup ends,
 * and whatever it lists has a name and some bytes. */
static void damage_never_stops_it(void **state)
{
    (void)state;
    unsigned char *clean = malloc(DISK);
    memcpy(clean, disk, DISK);
    srand(7);
    for (int round = 0; round < 300; round++) {
        memcpy(disk, clean, DISK);
        for (int k = 0; k < 1 + round % 20; k++) {
            size_t at = PART + (size_t)(rand() % ((FIRST_DATA + 8) * 512));
            if (round % 3 == 0 && at < PART + 11)
                continue;   /* some rounds keep a believable boot sector, to reach the walks */
            disk[at] = (unsigned char)rand();
        }
        struct block_map m;
        map_init(&m, DISK, MAP_FINISHED);
        for (uint64_t o = PART; o < DISK; o += 4096)
            map_mark(&m, o, 512, MAP_BAD);
        struct fs_owner_list l;
        assert_int_equal(fs_owners_find_fn(mem_read, disk, "test disk", NULL, 0, &m, &l), 0);
        for (size_t i = 0; i < l.count; i++) {
            assert_true(l.v[i].bytes > 0);
            assert_true(l.v[i].name[0] != '\0');
        }
        fs_owners_free(&l);
        map_free(&m);
    }
    memcpy(disk, clean, DISK);
    free(clean);
}

/* Filesystems it cannot look into are named in the reason; swap holds no files. */
static void others_named(void **state)
{
    (void)state;
    memcpy(disk, "XFSB", 4);
    memcpy(disk + (512 << 10) + 4086, "SWAPSPACE2", 10);
    struct block_map m;
    map_init(&m, DISK, MAP_FINISHED);
    map_mark(&m, 4096, 512, MAP_BAD);
    map_mark(&m, (512 << 10) + 8192, 1024, MAP_BAD);
    struct fs_owner_part parts[] = { { 1, 0, 512 << 10 }, { 2, 512 << 10, 512 << 10 }, { 3, PART, SECTORS * 512 } };
    struct fs_owner_list l;
    assert_int_equal(fs_owners_find_fn(mem_read, disk, "test disk", parts, 3, &m, &l), 0);
    assert_int_equal(l.count, 2);
    assert_int_equal(l.v[0].partition, 1);
    assert_int_equal(l.v[0].kind, FS_OWNER_UNRESOLVED);
    assert_string_equal(l.v[0].name, "could not be resolved: clonebay cannot look into xfs filesystems");
    assert_int_equal(l.v[1].kind, FS_OWNER_FREE);
    assert_int_equal(l.v[1].bytes, 1024);
    fs_owners_free(&l);
    map_free(&m);
    memset(disk, 0, PART);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_owner_once),
        cmocka_unit_test(damage_never_stops_it),
        cmocka_unit_test(others_named),
    };
    return cmocka_run_group_tests_name("fs_owners", tests, build, release);
}
