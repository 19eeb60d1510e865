/* Unit tests for clone/image_format: the header's used ranges (written,
 * parsed back, refused when out of order or past the disk) and the merging
 * that keeps a very fragmented map within the header's limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clone/image_format.h"

static int parse_header(struct img_meta *m, const char *text)
{
    struct cb_error err = { 0 };
    *m = (struct img_meta){ 0 };
    return img_meta_parse(m, text, strlen(text), false, "test.zst", &err);
}

static void used_ranges_round_trip(void **state)
{
    (void)state;
    struct img_meta m = { .format = IMG_FORMAT, .size = 1u << 30, .sector = 512, .frame_size = IMG_FRAME_SIZE };
    for (uint64_t i = 0; i < 1000; i++)
        assert_int_equal(img_range_push(&m.used, &m.nused, (struct img_range){ i << 20, 4096 * (i % 200 + 1) }), 0);
    size_t len;
    char *text = img_meta_header_text(&m, &len);
    assert_non_null(text);
    struct img_meta back;
    assert_int_equal(parse_header(&back, text), 0);
    assert_int_equal(back.nused, 1000);
    assert_memory_equal(back.used, m.used, 1000 * sizeof(*m.used));
    assert_int_equal(back.size, 1u << 30);
    free(text);
    img_meta_free(&back);
    img_meta_free(&m);
}

static void used_ranges_refused(void **state)
{
    (void)state;
    struct img_meta m;
    const char *head = "clonebay-image 1 header\nsize 1048576\n";
    char text[256];
    snprintf(text, sizeof(text), "%sused 4096 4096\nused 0 512\n", head);     /* out of order */
    assert_int_equal(parse_header(&m, text), -EINVAL);
    img_meta_free(&m);
    snprintf(text, sizeof(text), "%sused 0 4096\nused 4000 10\n", head);     /* overlapping */
    assert_int_equal(parse_header(&m, text), -EINVAL);
    img_meta_free(&m);
    snprintf(text, sizeof(text), "%sused 1048000 1000\n", head);             /* past the disk */
    assert_int_equal(parse_header(&m, text), -EINVAL);
    img_meta_free(&m);
    snprintf(text, sizeof(text), "%sused 0 0\n", head);                      /* empty */
    assert_int_equal(parse_header(&m, text), -EINVAL);
    img_meta_free(&m);
}

static void many_ranges_merged(void **state)
{
    (void)state;
    /* 10000 runs of 4 KiB, every other 4 KiB block: merged into a handful, covering them all. */
    struct img_range *v = NULL;
    size_t n = 0;
    for (uint64_t i = 0; i < 10000; i++)
        assert_int_equal(img_range_push(&v, &n, (struct img_range){ i * 8192 + (i >= 5000 ? 1u << 30 : 0), 4096 }), 0);
    img_ranges_limit(v, &n, 100);
    assert_true(n <= 100);
    assert_int_equal(n, 2);         /* the 1 GiB gap is not worth merging */
    assert_int_equal(v[0].off, 0);
    assert_int_equal(v[0].len, 4999 * 8192 + 4096);
    assert_int_equal(v[1].off, (1u << 30) + 5000 * 8192);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(used_ranges_round_trip),
        cmocka_unit_test(used_ranges_refused),
        cmocka_unit_test(many_ranges_merged),
    };
    return cmocka_run_group_tests_name("image_format", tests, NULL, NULL);
}
