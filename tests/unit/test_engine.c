/* Unit tests for the copy engine's known-zero domain regions (MAP_ZERO, issue
 * 25): on files, a region known to be zeros is written as zeros over what the
 * target held (a hole in a new sparse file), never taken from the source, is
 * in the digest as zeros, and verification fails when a target does not hold
 * zeros there. The source holds other bytes in that region, so a copy that
 * read it would show. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "clone/engine.h"

#define MIB (1u << 20)
#define DISK (16 * MIB)

static char dir[64], src_path[96], old_path[96], new_path[96];
static unsigned char *src_bytes;

static void write_file(const char *path, const unsigned char *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_file(const char *path)
{
    unsigned char *b = calloc(1, DISK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(b, 1, DISK, f);
    fclose(f);
    assert_true(n <= DISK);     /* a sparse file shorter than the disk reads as zeros past its end */
    return b;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cb-copy.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(src_path, sizeof(src_path), "%s/src", dir);
    snprintf(old_path, sizeof(old_path), "%s/old", dir);
    snprintf(new_path, sizeof(new_path), "%s/new", dir);
    src_bytes = malloc(DISK);
    if (!src_bytes)
        return -1;
    srand(25);
    for (size_t i = 0; i < DISK; i++)
        src_bytes[i] = (unsigned char)(rand() | 1);     /* never zero: a zero read back came from the engine */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(src_path);
    unlink(old_path);
    unlink(new_path);
    rmdir(dir);
    free(src_bytes);
    return 0;
}

/* [0,1M) copied, [1M,9M) known zeros, [9M,10M) copied, the rest outside the domain. */
static void domain_of_three(struct block_map *d)
{
    assert_int_equal(map_init(d, DISK, MAP_NONTRIED), 0);
    assert_int_equal(map_mark(d, 0, MIB, MAP_FINISHED), 0);
    assert_int_equal(map_mark(d, MIB, 8 * MIB, MAP_ZERO), 0);
    assert_int_equal(map_mark(d, 9 * MIB, MIB, MAP_FINISHED), 0);
}

static void expected_digest(char hex[HASH_MAX_HEX])
{
    struct hash_ctx *h = hash_new(HASH_SHA256);
    unsigned char *zeros = calloc(1, 8 * MIB);
    assert_non_null(h);
    assert_non_null(zeros);
    hash_update(h, src_bytes, MIB);
    hash_update(h, zeros, 8 * MIB);
    hash_update(h, src_bytes + 9 * MIB, MIB);
    hash_final_hex(h, hex);
    hash_free(h);
    free(zeros);
}

static void zero_regions(void **state)
{
    (void)state;
    write_file(src_path, src_bytes, DISK);
    unsigned char *old = malloc(DISK);
    assert_non_null(old);
    memset(old, 0xAA, DISK);                            /* a previous owner's bytes */
    write_file(old_path, old, DISK);
    unlink(new_path);

    struct cb_error err = { 0 };
    struct io_dev src;
    struct engine_target t[2] = { 0 };
    assert_int_equal(io_open_source(src_path, &src, &err), 0);
    assert_int_equal(io_open_target(old_path, false, &t[0].dev, &err), 0);
    assert_int_equal(io_open_target(new_path, true, &t[1].dev, &err), 0);
    t[1].sparse = true;
    assert_int_equal(ftruncate(t[1].dev.fd, DISK), 0);
    struct block_map map, domain;
    assert_int_equal(map_init(&map, DISK, MAP_NONTRIED), 0);
    domain_of_three(&domain);
    struct copy_progress progress = { .event_fd = -1 };
    struct engine_task job = {
        .source = engine_source_dev(&src), .targets = t, .ntargets = 2, .map = &map, .domain = &domain,
        .hash_mask = 1u << HASH_SHA256, .verify_alg = HASH_SHA256, .progress = &progress,
    };
    assert_int_equal(engine_run(&job, &err), 0);
    char want[HASH_MAX_HEX];
    expected_digest(want);
    assert_string_equal(job.digests[HASH_SHA256], want);
    assert_int_equal(map_bytes(&map, MAP_FINISHED), 10 * MIB);
    assert_int_equal(engine_verify(&job, &err), 0);
    assert_int_equal(t[0].verified, VERIFY_EQUAL);
    assert_int_equal(t[1].verified, VERIFY_EQUAL);

    for (int i = 0; i < 2; i++) {
        unsigned char *got = read_file(i ? new_path : old_path);
        assert_memory_equal(got, src_bytes, MIB);
        for (size_t k = MIB; k < 9 * MIB; k++)
            if (got[k])
                fail_msg("target %d holds %#x at byte %zu of the known-zero region", i, got[k], k);
        assert_memory_equal(got + 9 * MIB, src_bytes + 9 * MIB, MIB);
        if (!i)
            assert_memory_equal(got + 10 * MIB, old + 10 * MIB, DISK - 10 * MIB);    /* outside: untouched */
        free(got);
    }

    /* A target that lost a byte of its zeros is not VERIFIED. */
    unsigned char one = 0x5A;
    int fd = open(old_path, O_WRONLY);      /* the target's own descriptor may be O_DIRECT */
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &one, 1, 5 * MIB + 123), 1);
    assert_int_equal(fsync(fd), 0);
    close(fd);
    assert_int_not_equal(engine_verify(&job, &err), 0);
    assert_int_equal(t[0].verified, VERIFY_DIFFERS);
    assert_int_equal(t[1].verified, VERIFY_EQUAL);

    engine_release(&job);
    map_free(&map);
    map_free(&domain);
    io_close(&t[0].dev);
    io_close(&t[1].dev);
    io_close(&src);
    free(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_regions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
