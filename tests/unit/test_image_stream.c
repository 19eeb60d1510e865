/* Unit tests for clone/image_stream: an image read in order from a pipe.
 * The image is built here from the format's own pieces (header, checksummed
 * zstd frames, trailer, seek table) and checked to be one image_open takes;
 * then whole, cut, damaged, foreign and over-long streams go through a pipe. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

#include "clone/image_read.h"
#include "clone/image_stream.h"

#define FRAME (1u << 20)
#define FRAMES 5
#define DISK ((uint64_t)FRAME * FRAMES - 4096)      /* the last frame is short */

static unsigned char *disk;
static unsigned char *image;
static size_t image_len, first_data_at;

static void append(const void *p, size_t n)
{
    memcpy(image + image_len, p, n);
    image_len += n;
}

static void append_meta(const char *text, struct img_entry *e)
{
    size_t n;
    void *f = img_skippable_frame(IMG_META_MAGIC, text, strlen(text), &n);
    append(f, n);
    free(f);
    *e = (struct img_entry){ (uint32_t)n, 0, 0 };
}

static int build(void **state)
{
    (void)state;
    disk = malloc(DISK);
    image = malloc(DISK * 2 + (1u << 20));
    srand(7);
    for (uint64_t i = 0; i < DISK; i++)     /* half noise, half zeros: frames of both kinds */
        disk[i] = i < DISK / 2 ? (unsigned char)rand() : 0;
    struct hash_ctx *h = hash_new(HASH_SHA256);
    hash_update(h, disk, DISK);
    char hex[HASH_MAX_HEX];
    hash_final_hex(h, hex);
    hash_free(h);
    struct img_entry e[FRAMES + 2];
    char header[256], trailer[256];
    snprintf(header, sizeof(header), "clonebay-image 1 header\ntool test\nsize %llu\nsector 512\nframe-size %u\n",
             (unsigned long long)DISK, FRAME);
    append_meta(header, &e[0]);
    first_data_at = image_len;
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    for (int i = 0; i < FRAMES; i++) {
        size_t len = i + 1 < FRAMES ? FRAME : (size_t)(DISK - (uint64_t)FRAME * i);
        size_t r = ZSTD_compress2(c, image + image_len, ZSTD_compressBound(len), disk + (size_t)FRAME * i, len);
        assert_false(ZSTD_isError(r));
        e[i + 1] = (struct img_entry){ (uint32_t)r, (uint32_t)len, img_le32(image + image_len + r - 4) };
        image_len += r;
    }
    ZSTD_freeCCtx(c);
    snprintf(trailer, sizeof(trailer), "clonebay-image 1 trailer\ncomplete yes\nhash sha256 %s\n", hex);
    append_meta(trailer, &e[FRAMES + 1]);
    size_t n;
    void *t = img_seek_table(e, FRAMES + 2, &n);
    append(t, n);
    free(t);
    return 0;
}

static int release(void **state)
{
    (void)state;
    free(disk);
    free(image);
    return 0;
}

struct feed {
    int fd;
    const unsigned char *p;
    size_t n;
};

static void *feeder(void *arg)
{
    struct feed *f = arg;
    for (size_t done = 0; done < f->n;) {
        ssize_t w = write(f->fd, f->p + done, f->n - done);
        if (w <= 0)
            break;      /* the reader stopped: EPIPE */
        done += (size_t)w;
    }
    close(f->fd);
    return NULL;
}

/* Stream bytes p[0..n) through a pipe and read the whole disk in 1 MiB + 512
 * steps (not frame-aligned). 0 or the first error, err filled. */
static int stream(const unsigned char *p, size_t n, unsigned char *out, struct image_stream *s, struct cb_error *err)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct feed f = { fds[1], p, n };
    pthread_t th;
    pthread_create(&th, NULL, feeder, &f);
    int rc = image_stream_open(s, fds[0], "the test stream", err);
    for (uint64_t off = 0; !rc && off < DISK;) {
        size_t len = DISK - off < FRAME + 512 ? (size_t)(DISK - off) : FRAME + 512;
        rc = image_stream_read(s, out + off, len, off, err);
        off += len;
    }
    close(fds[0]);
    pthread_join(th, NULL);
    return rc;
}

static void the_built_image_is_one_image_open_takes(void **state)
{
    (void)state;
    char path[] = "/tmp/test_image_stream.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, image, image_len), (ssize_t)image_len);
    close(fd);
    struct image img;
    struct cb_error err = { 0 };
    int rc = image_open(&img, path, &err);
    unlink(path);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(img.nframes, FRAMES);
    image_close(&img);
}

static void a_whole_stream_gives_the_disk_and_its_trailer(void **state)
{
    (void)state;
    unsigned char *out = malloc(DISK);
    struct image_stream s;
    struct cb_error err = { 0 };
    int rc = stream(image, image_len, out, &s, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_memory_equal(out, disk, DISK);
    assert_true(s.ended);
    assert_true(s.meta.complete);
    assert_int_equal(strlen(s.meta.digests[HASH_SHA256]), 64);
    assert_int_equal(s.data_frames, FRAMES);
    image_stream_close(&s);
    free(out);
}

static void a_cut_stream_fails_as_cut_short(void **state)
{
    (void)state;
    unsigned char *out = malloc(DISK);
    struct image_stream s;
    struct cb_error err = { 0 };
    /* In a data frame, and just before the seek table's last bytes. */
    size_t cuts[] = { first_data_at + 1000, image_len - 3 };
    for (size_t i = 0; i < 2; i++) {
        int rc = stream(image, cuts[i], out, &s, &err);
        assert_int_equal(rc, -EPIPE);
        assert_non_null(strstr(err.msg, "cut short"));
        image_stream_close(&s);
    }
    free(out);
}

static void a_flipped_byte_is_a_damaged_frame(void **state)
{
    (void)state;
    unsigned char *copy = malloc(image_len), *out = malloc(DISK);
    memcpy(copy, image, image_len);
    copy[first_data_at + 5000] ^= 0x40;     /* inside the first frame's noise */
    struct image_stream s;
    struct cb_error err = { 0 };
    int rc = stream(copy, image_len, out, &s, &err);
    assert_int_equal(rc, -EIO);
    assert_non_null(strstr(err.msg, "frame 2 (stream bytes"));
    assert_non_null(strstr(err.msg, "is damaged"));
    image_stream_close(&s);
    free(copy);
    free(out);
}

static void foreign_data_is_not_an_image(void **state)
{
    (void)state;
    unsigned char *out = malloc(DISK);
    struct image_stream s;
    struct cb_error err = { 0 };
    assert_int_equal(stream(disk, 1 << 20, out, &s, &err), -EINVAL);     /* noise */
    assert_non_null(strstr(err.msg, "the test stream is not a clonebay image"));
    image_stream_close(&s);
    assert_int_equal(stream(image + first_data_at, image_len - first_data_at, out, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "zstd stream without clonebay's header"));
    image_stream_close(&s);
    free(out);
}

static void bytes_after_the_seek_table_are_refused(void **state)
{
    (void)state;
    unsigned char *copy = malloc(image_len + 100), *out = malloc(DISK);
    memcpy(copy, image, image_len);
    memset(copy + image_len, 0xAA, 100);
    struct image_stream s;
    struct cb_error err = { 0 };
    assert_int_equal(stream(copy, image_len + 100, out, &s, &err), -EIO);
    assert_non_null(strstr(err.msg, "more bytes follow the image's seek table"));
    image_stream_close(&s);
    free(copy);
    free(out);
}

static void a_lost_frame_is_found(void **state)
{
    (void)state;
    /* The second data frame left out: the rest comes one frame early. */
    size_t second = first_data_at + ZSTD_findFrameCompressedSize(image + first_data_at, image_len);
    size_t len2 = ZSTD_findFrameCompressedSize(image + second, image_len - second);
    unsigned char *copy = malloc(image_len), *out = malloc(DISK);
    memcpy(copy, image, second);
    memcpy(copy + second, image + second + len2, image_len - second - len2);
    struct image_stream s;
    struct cb_error err = { 0 };
    assert_int_equal(stream(copy, image_len - len2, out, &s, &err), -EIO);
    assert_non_null(strstr(err.msg, "the image's end comes at byte"));
    image_stream_close(&s);
    free(copy);
    free(out);
}

static void a_stream_only_goes_forward(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct feed f = { fds[1], image, image_len };
    pthread_t th;
    pthread_create(&th, NULL, feeder, &f);
    struct image_stream s;
    struct cb_error err = { 0 };
    unsigned char buf[4096];
    assert_int_equal(image_stream_open(&s, fds[0], "the test stream", &err), 0);
    assert_int_equal(image_stream_read(&s, buf, sizeof(buf), 3u * FRAME, &err), 0);  /* skips ahead */
    assert_memory_equal(buf, disk + 3u * FRAME, sizeof(buf));
    assert_int_equal(image_stream_read(&s, buf, sizeof(buf), 0, &err), -ESPIPE);
    image_stream_close(&s);
    close(fds[0]);
    pthread_join(th, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_built_image_is_one_image_open_takes),
        cmocka_unit_test(a_whole_stream_gives_the_disk_and_its_trailer),
        cmocka_unit_test(a_cut_stream_fails_as_cut_short),
        cmocka_unit_test(a_flipped_byte_is_a_damaged_frame),
        cmocka_unit_test(foreign_data_is_not_an_image),
        cmocka_unit_test(bytes_after_the_seek_table_are_refused),
        cmocka_unit_test(a_lost_frame_is_found),
        cmocka_unit_test(a_stream_only_goes_forward),
    };
    signal(SIGPIPE, SIG_IGN);       /* a feeder whose reader stopped gets EPIPE */
    return cmocka_run_group_tests_name("image_stream", tests, build, release);
}
