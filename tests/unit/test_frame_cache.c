/* Unit tests for clone/frame_cache and clone/image_diff on an image built
 * here frame by frame with libzstd (the format of clone/image_format.h):
 * reads equal the disk, a frame is decoded once while it stays cached, the
 * least recently used one goes first, a damaged frame fails only its own
 * bytes and is logged once, and diff finds exactly the bytes changed. */
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
#include <zstd.h>
#include <cmocka.h>

#include "clone/frame_cache.h"
#include "clone/image_diff.h"
#include "clone/image_format.h"

#define FRAME IMG_FRAME_SIZE
#define DISK (2 * FRAME + FRAME / 2)    /* three frames, the last one short */

static char dir[] = "/tmp/cb-fcache-XXXXXX";
static char img_path[64], raw_path[64];
static unsigned char *disk;
static uint64_t frame_cpos[3], frame_csize[3];

static unsigned char byte_at(uint64_t off)
{
    /* Compressible but never constant: a frame is really decoded. */
    return (unsigned char)((off / 4096) * 7 + (off % 251));
}

static void put(int fd, const void *buf, size_t len)
{
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

static void write_image(void)
{
    struct img_meta m = { .format = 1, .size = DISK, .sector = 512, .frame_size = FRAME };
    struct img_entry e[5];
    int fd = open(img_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    size_t len, flen;
    char *text = img_meta_header_text(&m, &len);
    void *frame = img_skippable_frame(IMG_META_MAGIC, text, len, &flen);
    put(fd, frame, flen);
    e[0] = (struct img_entry){ (uint32_t)flen, 0, 0 };
    uint64_t cpos = flen;
    free(text);
    free(frame);
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 1);
    size_t bound = ZSTD_compressBound(FRAME);
    unsigned char *out = malloc(bound);
    for (int i = 0; i < 3; i++) {
        size_t n = i < 2 ? FRAME : DISK - 2 * FRAME;
        size_t c = ZSTD_compress2(z, out, bound, disk + (size_t)i * FRAME, n);
        assert_false(ZSTD_isError(c));
        put(fd, out, c);
        e[i + 1] = (struct img_entry){ (uint32_t)c, (uint32_t)n, img_le32(out + c - 4) };
        frame_cpos[i] = cpos;
        frame_csize[i] = c;
        cpos += c;
    }
    free(out);
    ZSTD_freeCCtx(z);
    m.complete = true;
    text = img_meta_trailer_text(&m, &len);
    frame = img_skippable_frame(IMG_META_MAGIC, text, len, &flen);
    put(fd, frame, flen);
    e[4] = (struct img_entry){ (uint32_t)flen, 0, 0 };
    free(text);
    free(frame);
    void *table = img_seek_table(e, 5, &flen);
    put(fd, table, flen);
    free(table);
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(img_path, sizeof(img_path), "%s/d.zst", dir);
    snprintf(raw_path, sizeof(raw_path), "%s/d.img", dir);
    disk = malloc(DISK);
    for (uint64_t i = 0; i < DISK; i++)
        disk[i] = byte_at(i);
    write_image();
    int fd = open(raw_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, disk, DISK) != DISK)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[96];
    snprintf(p, sizeof(p), "%s/bad.zst", dir);
    unlink(p);
    unlink(img_path);
    unlink(raw_path);
    rmdir(dir);
    free(disk);
    return 0;
}

static void reads_equal_the_disk_and_decode_once(void **state)
{
    (void)state;
    struct fcache *c;
    struct cb_error err = { 0 };
    assert_int_equal(fcache_open(&c, img_path, false, 2, &err), 0);
    assert_int_equal(fcache_size(c), DISK);
    unsigned char buf[8192];
    struct fcache_stats st;
    for (int i = 0; i < 100; i++) {         /* all in frame 0 */
        uint64_t off = (uint64_t)i * 4096;
        assert_int_equal(fcache_read(c, buf, 4096, off), 4096);
        assert_memory_equal(buf, disk + off, 4096);
    }
    fcache_get_stats(c, &st);
    assert_int_equal(st.decoded, 1);
    /* Across the frame 0/1 boundary: both decoded, both kept. */
    assert_int_equal(fcache_read(c, buf, 8192, FRAME - 4096), 8192);
    assert_memory_equal(buf, disk + FRAME - 4096, 8192);
    fcache_get_stats(c, &st);
    assert_int_equal(st.decoded, 2);
    /* Frame 2 evicts the least recently used (frame 0, last touched before 1). */
    assert_int_equal(fcache_read(c, buf, 100, DISK - 100), 100);
    assert_memory_equal(buf, disk + DISK - 100, 100);
    assert_int_equal(fcache_read(c, buf, 100, FRAME + 5), 100);
    fcache_get_stats(c, &st);
    assert_int_equal(st.decoded, 3);
    assert_int_equal(fcache_read(c, buf, 100, 5), 100);
    fcache_get_stats(c, &st);
    assert_int_equal(st.decoded, 4);
    /* The end of the disk: short, then nothing. */
    assert_int_equal(fcache_read(c, buf, 8192, DISK - 10), 10);
    assert_int_equal(fcache_read(c, buf, 8192, DISK), 0);
    fcache_close(c);
}

static int logged;
static char last_log[CB_ERROR_MSG_MAX];
static void count_log(void *arg, const char *msg)
{
    (void)arg;
    logged++;
    snprintf(last_log, sizeof(last_log), "%s", msg);
}

static void a_damaged_frame_fails_only_its_bytes(void **state)
{
    (void)state;
    char bad[96];
    snprintf(bad, sizeof(bad), "%s/bad.zst", dir);
    FILE *in = fopen(img_path, "rb"), *out = fopen(bad, "wb");
    int ch;
    for (uint64_t at = 0; (ch = fgetc(in)) != EOF; at++)
        fputc(at >= frame_cpos[1] + frame_csize[1] / 2 && at < frame_cpos[1] + frame_csize[1] / 2 + 8 ? ch ^ 0x5a : ch,
              out);
    fclose(in);
    fclose(out);
    struct fcache *c;
    struct cb_error err = { 0 };
    assert_int_equal(fcache_open(&c, bad, false, 4, &err), 0);
    fcache_set_log(c, count_log, NULL);
    unsigned char *buf = malloc(2 * FRAME);
    /* A read that runs into the damaged frame stops short before it. */
    assert_int_equal(fcache_read(c, buf, 8192, FRAME - 4096), 4096);
    assert_memory_equal(buf, disk + FRAME - 4096, 4096);
    assert_int_equal(fcache_read(c, buf, 4096, FRAME + 4096), -EIO);
    assert_int_equal(fcache_read(c, buf, 4096, FRAME + 8192), -EIO);
    assert_int_equal(fcache_read(c, buf, 4096, 2 * FRAME), 4096);
    assert_memory_equal(buf, disk + 2 * FRAME, 4096);
    struct fcache_stats st;
    fcache_get_stats(c, &st);
    assert_int_equal(st.damaged, 1);
    assert_int_equal(logged, 1);
    char range[64];
    snprintf(range, sizeof(range), "disk bytes %u-%u", FRAME, 2 * FRAME - 1);
    assert_non_null(strstr(last_log, range));
    /* diff: that frame is not compared, the rest is equal. */
    struct fcache *raw;
    assert_int_equal(fcache_open(&raw, raw_path, true, 1, &err), 0);
    struct diff_totals t;
    assert_int_equal(image_diff(c, raw, NULL, NULL, &t, &err), 0);
    assert_int_equal(t.unreadable, FRAME);
    assert_int_equal(t.differ, 0);
    assert_int_equal(t.compared, DISK - FRAME);
    fcache_close(raw);
    fcache_close(c);
    free(buf);
}

struct seen {
    int n;
    enum diff_kind kind[4];
    uint64_t off[4], len[4], ndiff[4];
};

static int note(void *arg, enum diff_kind kind, uint64_t off, uint64_t len, uint64_t ndiff)
{
    struct seen *s = arg;
    if (s->n < 4) {
        s->kind[s->n] = kind;
        s->off[s->n] = off;
        s->len[s->n] = len;
        s->ndiff[s->n] = ndiff;
    }
    s->n++;
    return 0;
}

static void diff_finds_the_bytes_changed(void **state)
{
    (void)state;
    struct fcache *a, *b;
    struct cb_error err = { 0 };
    struct diff_totals t;
    struct seen s = { 0 };
    assert_int_equal(fcache_open(&a, img_path, false, 1, &err), 0);
    assert_int_equal(fcache_open(&b, raw_path, true, 1, &err), 0);
    assert_int_equal(image_diff(a, b, note, &s, &t, &err), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(t.compared, DISK);
    fcache_close(b);
    /* Two bytes 100 apart (one range), one far away (another). */
    int fd = open(raw_path, O_WRONLY);
    const uint64_t at[] = { FRAME + 7, FRAME + 107, 2 * FRAME + 12345 };
    for (int i = 0; i < 3; i++) {
        unsigned char v = (unsigned char)~byte_at(at[i]);
        assert_int_equal(pwrite(fd, &v, 1, (off_t)at[i]), 1);
    }
    assert_int_equal(ftruncate(fd, DISK + 4096), 0);
    close(fd);
    assert_int_equal(fcache_open(&b, raw_path, true, 1, &err), 0);
    assert_int_equal(image_diff(a, b, note, &s, &t, &err), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.kind[0], DIFF_DIFFERS);
    assert_int_equal(s.off[0], FRAME + 7);
    assert_int_equal(s.len[0], 101);
    assert_int_equal(s.ndiff[0], 2);
    assert_int_equal(s.off[1], 2 * FRAME + 12345);
    assert_int_equal(s.len[1], 1);
    assert_int_equal(s.kind[2], DIFF_ONLY_ONE);
    assert_int_equal(s.off[2], DISK);
    assert_int_equal(s.len[2], 4096);
    assert_int_equal(t.differ, 3 + 4096);
    fcache_close(b);
    fcache_close(a);
}

static void not_an_image_is_refused(void **state)
{
    (void)state;
    struct fcache *c = NULL;
    struct cb_error err = { 0 };
    assert_int_equal(fcache_open(&c, raw_path, false, 4, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a usable clonebay image"));
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_equal_the_disk_and_decode_once),
        cmocka_unit_test(a_damaged_frame_fails_only_its_bytes),
        cmocka_unit_test(diff_finds_the_bytes_changed),
        cmocka_unit_test(not_an_image_is_refused),
    };
    return cmocka_run_group_tests_name("frame_cache", tests, setup, teardown);
}
