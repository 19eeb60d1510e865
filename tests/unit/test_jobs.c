/* The job queue: conflict rules, and the state machine on real files
 * (a regular file is a valid clone source and target). */
#include "jobs/job_queue.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    struct clone_request req = { .kind = JOB_CLONE, .source = s, .targets = targets, .ntargets = 1,
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conflict_rules),
        cmocka_unit_test(state_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
