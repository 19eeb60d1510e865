/* Unit tests for common/: size formatting and parsing, JSON escaping. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cb_error.h"
#include "common/json_writer.h"
#include "common/units.h"

static void format_sizes(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(units_format_bytes(0, b, sizeof(b)), "0 B");
    assert_string_equal(units_format_bytes(512, b, sizeof(b)), "512 B");
    assert_string_equal(units_format_bytes(1024, b, sizeof(b)), "1.0 KiB");
    assert_string_equal(units_format_bytes(1000204886016ULL, b, sizeof(b)), "931.5 GiB");
    assert_string_equal(units_format_bytes(15376318464ULL, b, sizeof(b)), "14.3 GiB");
    /* 1048575 bytes rounds to 1024.0 KiB: must be shown as 1.0 MiB */
    assert_string_equal(units_format_bytes(1048575, b, sizeof(b)), "1.0 MiB");
    assert_string_equal(units_format_bytes(UINT64_MAX, b, sizeof(b)), "16.0 EiB");
}

static void parse_sizes(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(units_parse_bytes("4G", &v), 0);
    assert_true(v == 4ULL << 30);
    assert_int_equal(units_parse_bytes("4GiB", &v), 0);
    assert_true(v == 4ULL << 30);
    assert_int_equal(units_parse_bytes("4GB", &v), 0);
    assert_true(v == 4000000000ULL);
    assert_int_equal(units_parse_bytes("1.5M", &v), 0);
    assert_true(v == 1572864);
    assert_int_equal(units_parse_bytes("123456", &v), 0);
    assert_true(v == 123456);
    assert_int_equal(units_parse_bytes("", &v), -EINVAL);
    assert_int_equal(units_parse_bytes("abc", &v), -EINVAL);
    assert_int_equal(units_parse_bytes("4X", &v), -EINVAL);
    assert_int_equal(units_parse_bytes("4Gxx", &v), -EINVAL);
    assert_int_equal(units_parse_bytes("-1", &v), -EINVAL);
    assert_int_equal(units_parse_bytes("1.5", &v), -EINVAL);
    assert_int_equal(units_parse_bytes("20E", &v), -ERANGE);
}

static void json_escapes(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json_writer w;
    jw_init(&w, f);
    jw_object_begin(&w, NULL);
    jw_string(&w, "s", "a\"b\\c\n\x01");
    jw_u64(&w, "n", 42);
    jw_array_begin(&w, "e");
    jw_array_end(&w);
    jw_string(&w, "z", NULL);
    jw_object_end(&w);
    fclose(f);
    assert_string_equal(buf, "{\n  \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n  \"n\": 42,\n  \"e\": [],\n  \"z\": null\n}");
    free(buf);
}

static void error_messages(void **state)
{
    (void)state;
    struct cb_error e = { 0 };
    assert_int_equal(cb_error_set(&e, -ENOSPC, "target %s is full", "/dev/sdc"), -ENOSPC);
    assert_string_equal(e.msg, "target /dev/sdc is full");
    assert_int_equal(cb_error_set(NULL, -EIO, "x"), -EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_sizes),
        cmocka_unit_test(parse_sizes),
        cmocka_unit_test(json_escapes),
        cmocka_unit_test(error_messages),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
