/* Each target watched on its own (job_watch) and the session summary: the
 * engine's per-target counters are set by hand, as its writer threads would. */
#include "jobs/job_queue.h"
#include "jobs/job_watch.h"
#include "jobs/session.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* A running clone job to two targets, in its copy phase. */
static struct qjob *two_target_job(void)
{
    struct qjob *j = calloc(1, sizeof(*j));
    assert_non_null(j);
    j->job = calloc(1, sizeof(*j->job));
    assert_non_null(j->job);
    j->id = 7;
    j->kind = j->job->kind = JOB_CLONE;
    j->job->ops = job_kind_ops(JOB_CLONE);
    j->state = QJOB_RUNNING;
    j->ntargets = j->job->ntargets = 2;
    snprintf(j->source, sizeof(j->source), "/dev/sda");
    snprintf(j->targets[0], sizeof(j->targets[0]), "/dev/sdb");
    snprintf(j->targets[1], sizeof(j->targets[1]), "/dev/sdc");
    snprintf(j->job->targets[1].serial, sizeof(j->job->targets[1].serial), "WD-123");
    atomic_store(&j->job->progress.phase, PHASE_COPY);
    atomic_store(&j->job->progress.bytes_total, 1000u << 20);
    watch_reset(&j->watch);
    return j;
}

static void free_job(struct qjob *j)
{
    free(j->job);
    free(j);
}

/* What a writer thread does for one request that took ms milliseconds. */
static void wrote(struct engine_target *t, uint64_t bytes, uint64_t ms)
{
    atomic_fetch_add(&t->bytes_written, bytes);
    atomic_fetch_add(&t->busy_ns, ms * 1000000u);
}

static bool logged(const struct qjob *j, const char *what)
{
    for (int i = 0; i < j->nlog && i < JQ_LOG_LINES; i++)
        if (strstr(j->log[i], what))
            return true;
    return false;
}

static void pause_ms(long ms)
{
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

static void slow_target_holds_the_job_back(void **state)
{
    (void)state;
    struct qjob *j = two_target_job();
    watch_sample(j, 30);
    pause_ms(50);
    /* Both wrote the same bytes (the ring keeps them in step), but /dev/sdc
     * needed ten times the time: it is the slow one. */
    wrote(&j->job->ctargets[0], 40u << 20, 40);
    wrote(&j->job->ctargets[1], 40u << 20, 400);
    watch_sample(j, 30);
    assert_false(j->watch.t[0].slow);
    assert_true(j->watch.t[1].slow);
    assert_int_equal(j->watch.holding_back, 1);
    struct target_view v;
    watch_target_view(j, 1, &v);
    assert_int_equal(v.state, TGT_WRITING);
    assert_string_equal(v.word, "writing");
    assert_true(v.slow);
    assert_int_equal(v.done, 40u << 20);
    /* Two drives of about one speed: neither is slow. */
    pause_ms(50);
    wrote(&j->job->ctargets[0], 40u << 20, 300);
    wrote(&j->job->ctargets[1], 40u << 20, 300);
    for (int i = 0; i < 6; i++) {
        pause_ms(20);
        wrote(&j->job->ctargets[0], 40u << 20, 300);
        wrote(&j->job->ctargets[1], 40u << 20, 300);
        watch_sample(j, 30);
    }
    assert_false(j->watch.t[1].slow);
    assert_int_equal(j->watch.holding_back, -1);
    free_job(j);
}

static void stalled_target_said_and_noted(void **state)
{
    (void)state;
    struct qjob *j = two_target_job();
    watch_sample(j, 3);
    /* A write to /dev/sdc went out 5 s ago and has not come back. */
    atomic_store(&j->job->ctargets[1].busy_since_ns, engine_now_ns() - 5000000000ull);
    pause_ms(20);
    watch_sample(j, 3);
    assert_true(j->watch.t[1].stalled_since != 0);
    assert_true(j->watch.t[1].stalled_since <= time(NULL) - 4);
    assert_int_equal(j->watch.t[0].stalled_since, 0);
    assert_int_equal(j->watch.holding_back, 1);
    assert_true(logged(j, "target /dev/sdc not answering since"));
    struct target_view v;
    watch_target_view(j, 1, &v);
    assert_true(v.stalled_since != 0);
    /* Under the threshold: nothing said. */
    struct qjob *k = two_target_job();
    watch_sample(k, 30);
    atomic_store(&k->job->ctargets[1].busy_since_ns, engine_now_ns() - 5000000000ull);
    watch_sample(k, 30);
    assert_int_equal(k->watch.t[1].stalled_since, 0);
    free_job(k);
    /* It answers again; the report still gets the stall. */
    atomic_store(&j->job->ctargets[1].busy_since_ns, 0);
    watch_sample(j, 3);
    assert_int_equal(j->watch.t[1].stalled_since, 0);
    assert_true(logged(j, "target /dev/sdc answers again"));
    j->state = QJOB_FAILED;
    watch_notes(j);
    assert_int_equal(j->job->nnotes, 1);
    assert_non_null(strstr(j->job->notes[0], "target /dev/sdc not answering since"));
    free_job(j);
}

static void session_counts_and_files(void **state)
{
    (void)state;
    struct session s;
    session_start(&s);
    struct qjob *j = two_target_job();
    j->state = QJOB_FAILED;
    j->job->outcome = OUTCOME_MISMATCH;
    j->job->ctargets[0].verified = VERIFY_EQUAL;
    j->job->ctargets[1].verified = VERIFY_DIFFERS;
    snprintf(j->job->ctargets[1].verify_msg, sizeof(j->job->ctargets[1].verify_msg), "target /dev/sdc differs");
    session_add_job(&s, j);
    struct qjob *c = two_target_job();
    c->state = QJOB_CANCELLED;
    session_add_job(&s, c);
    assert_int_equal(s.jobs_ended, 1);
    assert_int_equal(s.jobs_failed, 1);
    assert_int_equal(s.jobs_cancelled, 1);
    assert_int_equal(s.drives_verified, 1);
    assert_int_equal(s.drives_failed, 1);
    assert_string_equal(s.drives[1].serial, "WD-123");
    assert_string_equal(s.drives[1].why, "target /dev/sdc differs");

    char dir[] = "/tmp/cb-session-XXXXXX", txt[4200], line[512];
    assert_non_null(mkdtemp(dir));
    struct cb_error err = { 0 };
    assert_int_equal(session_save(&s, dir, txt, sizeof(txt), &err), 0);
    FILE *f = fopen(txt, "r");
    assert_non_null(f);
    bool verified = false, failed = false;
    while (fgets(line, sizeof(line), f)) {
        verified |= strstr(line, "drives verified: 1") != NULL;
        failed |= strstr(line, "serial WD-123") != NULL && strstr(line, "FAILED") != NULL;
    }
    fclose(f);
    assert_true(verified && failed);
    char js[4300];
    snprintf(js, sizeof(js), "%.*s.json", (int)(strlen(txt) - 4), txt);
    assert_int_equal(access(js, R_OK), 0);
    unlink(txt);
    unlink(js);
    rmdir(dir);
    free_job(j);
    free_job(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slow_target_holds_the_job_back),
        cmocka_unit_test(stalled_target_said_and_noted),
        cmocka_unit_test(session_counts_and_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
