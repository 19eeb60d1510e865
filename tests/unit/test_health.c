/* Unit tests for drive health: the JSON reader (common/json_read), smartctl's
 * answers parsed into a state (devices/dev_health) from recorded answers in
 * tests/fixtures/smart, the real smartctl on a device without SMART, and the
 * stdout-only runner with its timeout (common/run_tool). Run from the top of
 * the tree (tests/run-all does). The qemu_*.json answers are smartctl 7.3's
 * own for QEMU's AHCI disk, NVMe and USB stick, kept by tests/iso/health.sh
 * (CB_KEEP_SMART=DIR); the others are written in smartctl's shape to hold
 * what QEMU cannot show (failing verdicts, pending sectors, worn NVMe). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/json_read.h"
#include "common/run_tool.h"
#include "devices/dev_health.h"
#include "devices/dev_health_cache.h"
#include "devices/dev_hidden.h"
#include "jobs/job_run.h"
#include "jobs/job_health.h"

#define FIXTURES "tests/fixtures/smart/"

static char *slurp(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), FIXTURES "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s (run from the top of the tree)", path);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    return buf;     /* deliberately not NUL-ended beyond len: the parser must honour len */
}

static void health_of(const char *name, struct dev_health *h)
{
    size_t len;
    char *buf = slurp(name, &len);
    dev_health_parse(buf, len, h);
    free(buf);
}

static void json_values(void **state)
{
    (void)state;
    const char *t = "{\"a\": {\"b\": [1, -2, 3.5e2], \"s\": \"x\\\"y\\u0041\\u00e9\\n\"}, \"t\": true, \"n\": null}";
    struct json_doc d;
    assert_int_equal(json_parse(t, strlen(t), &d), 0);
    int64_t v = 0;
    const struct json_node *arr = json_get(&d, NULL, "a.b");
    assert_non_null(arr);
    assert_int_equal(arr->type, JSON_ARRAY);
    const struct json_node *e = json_first(&d, arr);
    assert_true(json_int(e, &v));
    assert_int_equal(v, 1);
    e = json_next(&d, e);
    assert_true(json_int(e, &v));
    assert_int_equal(v, -2);
    e = json_next(&d, e);
    assert_false(json_int(e, &v));          /* not an integer */
    assert_null(json_next(&d, e));
    char s[16];
    assert_true(json_string(json_get(&d, NULL, "a.s"), s, sizeof(s)));
    assert_string_equal(s, "x\"yA?\n");
    assert_true(json_string(json_get(&d, NULL, "a.s"), s, 3));
    assert_string_equal(s, "x\"");          /* cut, still ended */
    bool b = false;
    assert_true(json_bool(json_get(&d, NULL, "t"), &b));
    assert_true(b);
    assert_int_equal(json_get(&d, NULL, "n")->type, JSON_NULL);
    assert_null(json_get(&d, NULL, "a.missing"));
    assert_null(json_get(&d, NULL, "t.deeper"));
    assert_false(json_bool(json_get(&d, NULL, "a"), &b));
    json_free(&d);
}

static void json_refuses_broken(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "   ", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "[1 2]", "{\"a\":1,}", "tru", "nul", "-", "1.", "1e",
        "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"tab\there\"", "{} {}", "[1]]", "{1:2}", "01x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_doc d;
        if (json_parse(bad[i], strlen(bad[i]), &d) != -EINVAL)
            fail_msg("accepted broken JSON '%s'", bad[i]);
        assert_null(d.nodes);
    }
    /* Nesting deeper than any tool's answer is refused, not recursed into. */
    size_t n = 100000;
    char *deep = malloc(2 * n);
    assert_non_null(deep);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    struct json_doc d;
    assert_int_equal(json_parse(deep, 2 * n, &d), -EINVAL);
    /* A value cut short by len is incomplete even when the bytes after it would finish it. */
    assert_int_equal(json_parse("[1, 2]", 5, &d), -EINVAL);
    free(deep);
}

/* Each recorded answer, read into every field: the state, the verdict, the
 * counts (N: not reported) and the reasons in words. */
#define N DEV_HEALTH_NONE
static const struct answer {
    const char *file;
    enum dev_health_state state;
    int verdict;
    int64_t hours, temp, realloc, pending, uncorr, media, used;
    const char *protocol, *why;
} answers[] = {
    { "sata_pass.json", DEV_HEALTH_OK, 1, 21050, 34, 0, 0, 0, N, N, "ATA", "SMART overall verdict PASSED" },
    { "sata_failed_verdict.json", DEV_HEALTH_FAILING, 0, 48211, 41, 3912, 0, 2, N, N, "ATA",
      "SMART overall verdict FAILED; attribute Reallocated_Sector_Ct failing now; 2 uncorrectable sectors; "
      "3912 reallocated sectors" },
    /* The verdict still says PASSED; the sectors say otherwise. */
    { "sata_pending.json", DEV_HEALTH_FAILING, 1, 30110, 38, 24, 8, 0, N, N, "ATA",
      "8 pending sectors; 24 reallocated sectors" },
    { "sata_reallocated.json", DEV_HEALTH_WORN, 1, 39001, 36, 16, 0, 0, N, N, "ATA", "16 reallocated sectors" },
    { "sas_grown_defects.json", DEV_HEALTH_WORN, 1, 51234, 31, 3, N, 0, N, N, "SCSI", "3 reallocated sectors" },
    { "nvme_pass.json", DEV_HEALTH_OK, 1, 2401, 36, N, N, N, 0, 3, "NVMe", "SMART overall verdict PASSED" },
    { "nvme_media_errors.json", DEV_HEALTH_FAILING, 0, 14002, 51, N, N, N, 12, 97, "NVMe",
      "SMART overall verdict FAILED; NVMe critical warning 0x04 (reliability degraded); spare at 5 % (threshold "
      "10 %); 12 media errors; 97 % of rated life used" },
    /* smartctl's own answers for QEMU's drives. */
    { "qemu_ahci.json", DEV_HEALTH_OK, 1, 1, 31, 0, N, N, N, N, "ATA", "SMART overall verdict PASSED" },
    { "qemu_nvme.json", DEV_HEALTH_OK, 1, 0, 50, N, N, N, 0, 0, "NVMe", "SMART overall verdict PASSED" },
    { "qemu_usb.json", DEV_HEALTH_UNKNOWN, -1, N, N, N, N, N, N, N, "",
      "SMART not available: /dev/sdb: Unknown USB bridge [0x46f4:0x0001 (0x000)]" },
    /* Drives that refuse SMART: unknown, never ok. */
    { "usb_unknown_bridge.json", DEV_HEALTH_UNKNOWN, -1, N, N, N, N, N, N, N, "",
      "SMART not available: /dev/sde: Unknown USB bridge [0x0bda:0x9210 (0xf01)]" },
    { "usb_no_smart.json", DEV_HEALTH_UNKNOWN, -1, N, N, N, N, N, N, N, "SCSI",
      "SMART not available: SMART support is: Unavailable - device lacks SMART capability." },
};
#undef N

static void recorded_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        const struct answer *a = &answers[i];
        struct dev_health h;
        health_of(a->file, &h);
        print_message("%s: %s: %s\n", a->file, dev_health_word(h.state), h.why);
        assert_string_equal(h.why, a->why);
        assert_int_equal(h.state, a->state);
        assert_int_equal(h.verdict, a->verdict);
        int64_t got[] = { h.power_on_hours, h.temperature, h.reallocated, h.pending, h.uncorrectable,
                          h.media_errors, h.percentage_used };
        int64_t want[] = { a->hours, a->temp, a->realloc, a->pending, a->uncorr, a->media, a->used };
        for (size_t k = 0; k < sizeof(got) / sizeof(got[0]); k++)
            assert_int_equal(got[k], want[k]);
        assert_string_equal(h.protocol, a->protocol);
    }
}

static void words_and_summary(void **state)
{
    (void)state;
    struct dev_health h;
    health_of("sata_pass.json", &h);
    char line[300];
    dev_health_summary(&h, line, sizeof(line));
    assert_string_equal(line, "ok: SMART overall verdict PASSED, 21050 h on, 34 C");
    health_of("nvme_pass.json", &h);
    dev_health_summary(&h, line, sizeof(line));
    assert_string_equal(line, "ok: SMART overall verdict PASSED, 2401 h on, 36 C, 3 % used");
    const char *words[] = { "unknown", "ok", "worn", "failing" };
    for (int s = DEV_HEALTH_UNKNOWN; s <= DEV_HEALTH_FAILING; s++)
        assert_string_equal(dev_health_word((enum dev_health_state)s), words[s]);
}

static void garbage_is_unknown(void **state)
{
    (void)state;
    const char *names[] = { "truncated.json", "garbage.txt" };
    for (size_t i = 0; i < 2; i++) {
        struct dev_health h;
        health_of(names[i], &h);
        assert_int_equal(h.state, DEV_HEALTH_UNKNOWN);
        assert_string_equal(h.why, "smartctl's answer could not be read (not whole JSON)");
    }
    struct dev_health h;
    dev_health_parse("", 0, &h);
    assert_int_equal(h.state, DEV_HEALTH_UNKNOWN);
    assert_string_equal(h.why, "smartctl said nothing");
    dev_health_parse("[1,2]", 5, &h);       /* JSON, but not an answer */
    assert_int_equal(h.state, DEV_HEALTH_UNKNOWN);
    /* The right shape with values of the wrong types: none is taken, no verdict, never "ok". */
    health_of("wrong_types.json", &h);
    assert_int_equal(h.state, DEV_HEALTH_UNKNOWN);
    assert_int_equal(h.verdict, -1);
    assert_int_equal(h.power_on_hours, DEV_HEALTH_NONE);
    assert_int_equal(h.temperature, DEV_HEALTH_NONE);
    assert_int_equal(h.pending, DEV_HEALTH_NONE);   /* a negative count is no count */
    assert_string_equal(h.why, "SMART data without an overall verdict");
    /* Every prefix of a real answer: a clear state each time (ASan watches the reads). */
    size_t len;
    char *buf = slurp("nvme_media_errors.json", &len);
    for (size_t n = 0; n < len; n += 7) {
        dev_health_parse(buf, n, &h);
        assert_true(h.state == DEV_HEALTH_UNKNOWN || n + 2 >= len);
    }
    free(buf);
}

static void hidden_areas(void **state)
{
    (void)state;
    size_t len;
    uint64_t visible = 0, native = 0, real = 0;
    char *t = slurp("hdparm_N_hpa.txt", &len);
    t[len] = '\0';
    assert_int_equal(dev_hidden_parse_max(t, &visible, &native), 0);
    assert_int_equal(visible, 1951427951ull);
    assert_int_equal(native, 1953525168ull);
    free(t);
    t = slurp("hdparm_N_none.txt", &len);
    t[len] = '\0';
    assert_int_equal(dev_hidden_parse_max(t, &visible, &native), 0);
    assert_int_equal(visible, native);
    free(t);
    t = slurp("hdparm_N_refused.txt", &len);
    t[len] = '\0';
    assert_int_equal(dev_hidden_parse_max(t, &visible, &native), -EINVAL);
    assert_int_equal(dev_hidden_parse_dco(t, &real), -EINVAL);
    free(t);
    t = slurp("hdparm_dco.txt", &len);
    t[len] = '\0';
    assert_int_equal(dev_hidden_parse_dco(t, &real), 0);
    assert_int_equal(real, 1953529264ull);
    free(t);
    assert_int_equal(dev_hidden_parse_max("max sectors = 0/0", &visible, &native), -EINVAL);
    assert_int_equal(dev_hidden_parse_max("max sectors = x", &visible, &native), -EINVAL);
    /* What a report and a drive line say of them. */
    struct dev_health h;
    health_of("sata_pass.json", &h);
    assert_int_equal(h.logical_sector, 512);
    assert_int_equal(h.hpa_bytes, DEV_HEALTH_NONE);
    char text[128];
    dev_health_hidden_text(&h, text, sizeof(text));
    assert_string_equal(text, "");
    h.hpa_bytes = (1953525168ll - 1951427951ll) * 512;
    dev_health_hidden_text(&h, text, sizeof(text));
    assert_string_equal(text, "HPA: 1.0 GiB hidden");
    h.dco_bytes = 4096ll * 512;
    dev_health_hidden_text(&h, text, sizeof(text));
    assert_string_equal(text, "HPA: 1.0 GiB hidden, DCO: 2.0 MiB hidden");
    char line[300];
    dev_health_summary(&h, line, sizeof(line));
    assert_string_equal(line, "ok: SMART overall verdict PASSED, 21050 h on, 34 C; HPA: 1.0 GiB hidden, "
                              "DCO: 2.0 MiB hidden");
}

/* A job's report: a source that hides an area says it was not copied; a loop says why it has no SMART. */
static void job_notes_hidden_area(void **state)
{
    (void)state;
    struct job *job = calloc(1, sizeof(*job));
    assert_non_null(job);
    struct dev_drive d = { .kind = DEV_KIND_LOOP };
    snprintf(job->source.path, sizeof(job->source.path), "/dev/sdz");
    job_health_init(&job->source, &d);
    assert_true(job->source.has_health);
    assert_false(job->source.smart);
    assert_string_equal(job->source.health.why, "a loop device has no SMART");
    job_health_before(job);
    assert_int_equal(job->nnotes, 0);
    job->source.health.hpa_bytes = 1 << 30;     /* as dev_hidden would have read it */
    job_health_before(job);
    assert_int_equal(job->nnotes, 1);
    assert_string_equal(job->notes[0], "source /dev/sdz: HPA: 1.0 GiB hidden; the hidden area was not copied (only "
                                       "the sectors the drive shows are read, and nothing here changes its limits)");
    job_health_after(job);
    assert_true(job->has_health_after);
    assert_int_equal(job->source_health_after.hpa_bytes, 1 << 30);
    free(job);
}

static void loops_are_unknown_at_once(void **state)
{
    (void)state;
    struct dev_drive d = { .kind = DEV_KIND_LOOP };
    snprintf(d.path, sizeof(d.path), "/dev/loop7");
    struct dev_health h;
    assert_int_equal(dev_health_read(&d, 30, &h), 0);
    assert_int_equal(h.state, DEV_HEALTH_UNKNOWN);
    assert_string_equal(h.why, "a loop device has no SMART");
    d.kind = DEV_KIND_VIRTUAL;
    dev_health_read(&d, 30, &h);
    assert_string_equal(h.why, "a virtual disk has no SMART");
}

/* The test hook feeds a recorded answer for one drive (the station's advice is tested with it). */
static void test_hook_answers(void **state)
{
    (void)state;
    setenv("CLONEBAY_TEST_SMART", "/dev/loop1=" FIXTURES "sata_pass.json,/dev/loop12=" FIXTURES "sata_pending.json", 1);
    struct dev_drive d = { .kind = DEV_KIND_LOOP };
    struct dev_health h;
    snprintf(d.path, sizeof(d.path), "/dev/loop12");
    dev_health_read(&d, 30, &h);
    assert_int_equal(h.state, DEV_HEALTH_FAILING);
    assert_int_equal(h.pending, 8);
    snprintf(d.path, sizeof(d.path), "/dev/loop1");
    dev_health_read(&d, 30, &h);
    assert_int_equal(h.state, DEV_HEALTH_OK);
    snprintf(d.path, sizeof(d.path), "/dev/loop2");        /* a prefix of none, and not listed */
    dev_health_read(&d, 30, &h);
    assert_string_equal(h.why, "a loop device has no SMART");
    unsetenv("CLONEBAY_TEST_SMART");
    snprintf(d.path, sizeof(d.path), "/dev/loop12");
    dev_health_read(&d, 30, &h);
    assert_string_equal(h.why, "a loop device has no SMART");
}

/* The real smartctl on something that is no drive: its refusal is read as unknown. */
static void real_smartctl_refusal(void **state)
{
    (void)state;
    struct dev_health h;
    int rc = dev_health_read_path("/dev/null", 60, &h);
    if (rc == -ENOENT)
        skip();     /* smartmontools not installed (scripts/packages.txt has it) */
    assert_int_equal(rc, 0);
    assert_int_equal(h.state, DEV_HEALTH_UNKNOWN);
    assert_string_equal(h.why, "SMART not available: /dev/null: Unable to detect device type");
}

/* The cache answers at once, reads in the background, and keeps the answer by identity. */
static void cache_reads_in_background(void **state)
{
    (void)state;
    struct dev_health_cache *c;
    assert_int_equal(dev_health_cache_open(&c, 2, 60), 0);
    struct dev_drive loop = { .kind = DEV_KIND_LOOP, .major = 7, .minor = 3 };
    struct dev_health h;
    assert_true(dev_health_cache_get(c, &loop, &h));       /* no smartctl for a loop */
    assert_string_equal(h.why, "a loop device has no SMART");
    struct dev_drive disk = { .kind = DEV_KIND_HDD, .major = 1, .minor = 3, .diskseq = 9 };
    snprintf(disk.path, sizeof(disk.path), "/dev/null");
    snprintf(disk.serial, sizeof(disk.serial), "S1");
    unsigned g = dev_health_cache_generation(c);
    if (!dev_health_cache_get(c, &disk, &h)) {
        assert_int_equal(h.state, DEV_HEALTH_UNKNOWN);
        assert_string_equal(h.why, "not read yet");
    }
    dev_health_cache_wait(c);
    assert_int_equal(dev_health_cache_generation(c), g + 1);
    assert_true(dev_health_cache_get(c, &disk, &h));
    assert_int_equal(h.state, DEV_HEALTH_UNKNOWN);
    if (!strstr(h.why, "not installed"))
        assert_string_equal(h.why, "SMART not available: /dev/null: Unable to detect device type");
    /* The same device number with another serial is another drive: read again. */
    snprintf(disk.serial, sizeof(disk.serial), "S2");
    assert_false(dev_health_cache_get(c, &disk, &h));
    dev_health_cache_wait(c);
    assert_int_equal(dev_health_cache_generation(c), g + 2);
    assert_true(dev_health_cache_get(c, &disk, &h));
    dev_health_cache_close(c);
}

static void runner_stdout_and_timeout(void **state)
{
    (void)state;
    char out[64];
    const char *both[] = { "sh", "-c", "echo data; echo noise >&2; exit 3", NULL };
    assert_int_equal(run_tool_stdout(both, out, sizeof(out), 10), 3);
    assert_string_equal(out, "data\n");
    assert_int_equal(run_tool(both, out, sizeof(out)), 3);
    assert_non_null(strstr(out, "noise"));
    /* A tool that never ends is killed: the caller gets -ETIMEDOUT, not a hang. */
    const char *hang[] = { "sleep", "600", NULL };
    assert_int_equal(run_tool_stdout(hang, out, sizeof(out), 1), -ETIMEDOUT);
    const char *none[] = { "clonebay-no-such-tool", NULL };
    assert_int_equal(run_tool_stdout(none, out, sizeof(out), 1), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_values),
        cmocka_unit_test(json_refuses_broken),
        cmocka_unit_test(recorded_answers),
        cmocka_unit_test(words_and_summary),
        cmocka_unit_test(garbage_is_unknown),
        cmocka_unit_test(hidden_areas),
        cmocka_unit_test(job_notes_hidden_area),
        cmocka_unit_test(loops_are_unknown_at_once),
        cmocka_unit_test(test_hook_answers),
        cmocka_unit_test(real_smartctl_refusal),
        cmocka_unit_test(cache_reads_in_background),
        cmocka_unit_test(runner_stdout_and_timeout),
    };
    return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
