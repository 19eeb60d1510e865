/* The job queue: conflict rules, and the state machine on real files
 * (a regular file is a valid clone source and target); disc archiving on a
 * real ISO file standing in for a drive with a disc. */
#include "jobs/disc_archive.h"
#include "jobs/job_queue.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static struct qjob spec(const char *src, const char *t1, const char *t2)
{
    struct qjob j = { 0 };
    snprintf(j.src_key, sizeof(j.src_key), "%s", src);
    snprintf(j.tgt_keys[0], sizeof(j.tgt_keys[0]), "%s", t1);
    j.ntargets = 1;
    if (t2) {
        snprintf(j.tgt_keys[1], sizeof(j.tgt_keys[1]), "%s", t2);
        j.ntargets = 2;
    }
    return j;
}

static void conflict_rules(void **state)
{
    (void)state;
    struct qjob a = spec("b:8:0", "b:8:16", "b:8:32");
    struct qjob same_source = spec("b:8:0", "b:8:48", NULL);
    struct qjob same_target = spec("b:8:64", "b:8:32", NULL);
    struct qjob reads_a_target = spec("b:8:16", "b:8:80", NULL);
    struct qjob writes_a_source = spec("b:8:96", "b:8:0", NULL);
    struct qjob other = spec("f:1:2", "p:/tmp/x.zst", NULL);
    assert_false(jq_conflict(&a, &same_source));        /* a source may feed several jobs */
    assert_true(jq_conflict(&a, &same_target));
    assert_true(jq_conflict(&same_target, &a));
    assert_true(jq_conflict(&a, &reads_a_target));      /* it would read what a writes */
    assert_true(jq_conflict(&a, &writes_a_source));     /* it would write what a reads */
    assert_false(jq_conflict(&a, &other));
}

static char dir[64];

static void make_file(const char *name, size_t mib, int fill)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    char buf[4096];
    memset(buf, fill, sizeof(buf));
    for (size_t i = 0; i < mib * 256; i++)
        fwrite(buf, 1, sizeof(buf), f);
    fclose(f);
}

static void run_until_idle(struct job_queue *q)
{
    for (int i = 0; i < 3000 && jq_active(q); i++) {
        jq_tick(q);
        usleep(10000);
    }
    jq_tick(q);
}

static int submit(struct job_queue *q, const char *src, const char *dst, uint64_t rate)
{
    char s[128], d[128];
    snprintf(s, sizeof(s), "%s/%s", dir, src);
    snprintf(d, sizeof(d), "%s/%s", dir, dst);
    const char *targets[] = { d };
    struct job_request req = { .kind = JOB_CLONE, .source = s, .targets = targets, .ntargets = 1,
                                 .hash_mask = 1u << HASH_SHA256, .verify = true, .retries = 1,
                                 .max_read_rate = rate };
    struct cb_error err = { 0 };
    return jq_submit(q, &req, &err);
}

static void state_machine(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cb-jobs-XXXXXX");
    assert_non_null(mkdtemp(dir));
    make_file("src", 8, 0x5a);
    make_file("t1", 8, 0);
    make_file("t2", 8, 0);
    char reports[128];
    snprintf(reports, sizeof(reports), "%s/reports", dir);
    struct job_queue q;
    struct cb_error err = { 0 };
    assert_int_equal(jq_init(&q, reports, 0, &err), 0);

    /* Two jobs on one target: the second waits for the first. */
    int a = submit(&q, "src", "t1", 4u << 20);      /* slow: 2 s */
    int b = submit(&q, "src", "t1", 0);
    int c = submit(&q, "src", "t2", 0);             /* shares only the source: runs at once */
    assert_true(a > 0 && b > 0 && c > 0);
    jq_tick(&q);
    assert_int_equal(jq_find(&q, a)->state, QJOB_RUNNING);
    assert_int_equal(jq_find(&q, b)->state, QJOB_QUEUED);
    assert_int_equal(jq_find(&q, c)->state, QJOB_RUNNING);
    run_until_idle(&q);
    assert_int_equal(jq_find(&q, a)->state, QJOB_DONE);
    assert_int_equal(jq_find(&q, b)->state, QJOB_DONE);
    assert_int_equal(jq_find(&q, c)->state, QJOB_DONE);
    assert_non_null(strstr(jq_find(&q, a)->verdict, "VERIFIED sha256"));
    assert_int_equal(access(jq_find(&q, c)->report_path, R_OK), 0);
    /* Every phase is in the log, even one shorter than a tick. */
    bool copy = false, verify = false;
    const struct qjob *ja = jq_find(&q, a);
    for (int i = 0; i < ja->nlog && i < JQ_LOG_LINES; i++) {
        copy |= strstr(ja->log[i], "phase: copy") != NULL;
        verify |= strstr(ja->log[i], "phase: verify") != NULL;
    }
    assert_true(copy && verify);

    /* Cancel: a queued job never starts; a running one stops. */
    int d = submit(&q, "src", "t1", 1u << 20);      /* 8 s if left alone */
    int e = submit(&q, "src", "t1", 0);
    jq_tick(&q);
    assert_int_equal(jq_find(&q, d)->state, QJOB_RUNNING);
    jq_cancel(&q, e);
    assert_int_equal(jq_find(&q, e)->state, QJOB_CANCELLED);
    jq_cancel(&q, d);
    run_until_idle(&q);
    assert_int_equal(jq_find(&q, d)->state, QJOB_CANCELLED);

    /* A refusal known at once is returned, and nothing is queued. */
    size_t before = q.count;
    assert_true(submit(&q, "src", "src", 0) < 0);
    assert_int_equal(q.count, before);

    /* Clearing keeps nothing finished. */
    jq_clear_finished(&q);
    assert_int_equal(q.count, 0);
    jq_shutdown(&q);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void archive_names(void **state)
{
    (void)state;
    char d[] = "/tmp/cb-arcname-XXXXXX", name[4200], want[4200], day[16];
    assert_non_null(mkdtemp(d));
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y%m%d", &tm);
    archive_file_name(d, "MY DISC/1", now, name, sizeof(name));
    snprintf(want, sizeof(want), "%s/MY_DISC_1-%s.iso", d, day);
    assert_string_equal(name, want);
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fclose(f);
    archive_file_name(d, "MY DISC/1", now, name, sizeof(name));     /* never over an existing file */
    snprintf(want, sizeof(want), "%s/MY_DISC_1-%s-2.iso", d, day);
    assert_string_equal(name, want);
    char partial[4300];
    snprintf(partial, sizeof(partial), "%s.partial", name);         /* nor over one being written */
    assert_non_null((f = fopen(partial, "w")));
    fclose(f);
    archive_file_name(d, "MY DISC/1", now, name, sizeof(name));
    snprintf(want, sizeof(want), "%s/MY_DISC_1-%s-3.iso", d, day);
    assert_string_equal(name, want);
    archive_file_name(d, "", now, name, sizeof(name));
    snprintf(want, sizeof(want), "%s/disc-%s.iso", d, day);
    assert_string_equal(name, want);
    archive_file_name(d, "..", now, name, sizeof(name));            /* no way out of the folder */
    assert_string_equal(name, want);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
}

/* A "drive" that is the grub-rescue ISO file: inserted, archived once, taken
 * out, put back (a second file); an audio CD is refused and counted. */
static void archive_discs(void **state)
{
    (void)state;
    const char *iso = "/usr/lib/grub-rescue/grub-rescue-cdrom.iso";
    if (access(iso, R_OK) != 0)
        skip();
    char d[] = "/tmp/cb-archive-XXXXXX";
    assert_non_null(mkdtemp(d));
    struct job_queue q;
    struct cb_error err = { 0 };
    assert_int_equal(jq_init(&q, d, 0, &err), 0);
    struct dev_drive drv = { .is_optical = true, .size = 5081088, .optical = { .media = true, .data_tracks = 1 } };
    snprintf(drv.path, sizeof(drv.path), "%s", iso);
    snprintf(drv.label, sizeof(drv.label), "ISOIMAGE");
    struct dev_list devs = { .count = 1, .drives = &drv };
    struct disc_archive a = { 0 };
    assert_true(archive_toggle(&a, iso));

    assert_true(archive_tick(&a, &devs, &q, d));                    /* the disc: a job starts */
    assert_int_equal(q.count, 1);
    run_until_idle(&q);
    archive_tick(&a, &devs, &q, d);
    assert_int_equal(a.drives[0].archived, 1);
    assert_non_null(strstr(a.list[(a.nlist - 1) % ARCHIVE_LIST], "VERIFIED"));
    char cmd[9000];
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s/ISOIMAGE-*.iso", iso, d);
    assert_int_equal(system(cmd), 0);                               /* byte for byte */

    assert_false(archive_tick(&a, &devs, &q, d));                   /* the same disc: nothing again */
    assert_int_equal(q.count, 1);
    drv.optical.media = false;
    archive_tick(&a, &devs, &q, d);                                 /* taken out... */
    drv.optical.media = true;
    assert_true(archive_tick(&a, &devs, &q, d));                    /* ...and in: a new disc */
    run_until_idle(&q);
    archive_tick(&a, &devs, &q, d);
    assert_int_equal(a.drives[0].archived, 2);
    snprintf(cmd, sizeof(cmd), "test $(ls %s/ISOIMAGE-*.iso | wc -l) = 2", d);
    assert_int_equal(system(cmd), 0);                               /* the second got its own name */

    drv.optical.media = false;
    archive_tick(&a, &devs, &q, d);
    drv.optical = (struct dev_optical){ .media = true, .audio_tracks = 12 };
    assert_true(archive_tick(&a, &devs, &q, d));
    assert_int_equal(a.drives[0].failed, 1);
    assert_int_equal(q.count, 2);                                   /* no job for an audio CD */
    assert_non_null(strstr(a.list[(a.nlist - 1) % ARCHIVE_LIST], "audio CD"));

    assert_false(archive_toggle(&a, iso));
    jq_shutdown(&q);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
}

/* A job refused as it came to start and withdrawn (the station shows the
 * refusal where Y was pressed) has no report: its refusal goes to jobs.log. */
static void withdrawn_refusal_is_logged(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cb-jobs-XXXXXX");
    assert_non_null(mkdtemp(dir));
    make_file("junk.zst", 1, 0x11);
    make_file("t1", 8, 0);
    char reports[128], src[128], dst[128], logp[160];
    snprintf(reports, sizeof(reports), "%s/reports", dir);
    snprintf(src, sizeof(src), "%s/junk.zst", dir);
    snprintf(dst, sizeof(dst), "%s/t1", dir);
    struct job_queue q;
    struct cb_error err = { 0 };
    assert_int_equal(jq_init(&q, reports, 0, &err), 0);
    const char *targets[] = { dst };
    struct job_request req = { .kind = JOB_RESTORE, .source = src, .targets = targets, .ntargets = 1,
                                 .hash_mask = 1u << HASH_SHA256, .verify = true, .retries = 1 };
    int id = jq_submit(&q, &req, &err);
    assert_true(id > 0);
    run_until_idle(&q);
    struct qjob *j = jq_find(&q, id);
    assert_non_null(j);
    assert_int_equal(j->state, QJOB_FAILED);
    assert_int_equal(strncmp(j->verdict, "REFUSED: ", 9), 0);
    char refusal[600];
    snprintf(refusal, sizeof(refusal), "%s", j->verdict + 9);
    jq_withdraw(&q, id);
    assert_null(jq_find(&q, id));
    snprintf(logp, sizeof(logp), "%s/jobs.log", reports);
    FILE *f = fopen(logp, "r");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    assert_non_null(strstr(text, "withdrawn, refused before it started"));
    assert_non_null(strstr(text, refusal));
    jq_shutdown(&q);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conflict_rules),
        cmocka_unit_test(state_machine),
        cmocka_unit_test(archive_names),
        cmocka_unit_test(archive_discs),
        cmocka_unit_test(withdrawn_refusal_is_logged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
