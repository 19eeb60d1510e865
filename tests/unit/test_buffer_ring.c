/* The ring's lag rules: a drive proved slower than another is left behind as
 * soon as the reader would wait for it alone; one that is not proved is left
 * behind only once time is lost; a consumer that may not lag (a hasher) is
 * always waited for. Single-threaded where it can be; alarm() turns a hang
 * (the reader waiting where it must not) into a failure. */
#include "clone/buffer_ring.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

struct log {
    int skips;
    uint64_t skipped_seq;
    int skipped_consumer;
    bool proved;
};

static void on_skip(struct ring_slot *slot, int consumer, void *arg)
{
    struct log *l = arg;
    l->skips++;
    l->skipped_seq = slot->seq;
    l->skipped_consumer = consumer;
}

static bool proved_slow(int consumer, void *arg)
{
    struct log *l = arg;
    return l->proved && consumer == 1;
}

/* Two slots, two drives: drive 0 takes and releases slots 0 and 1, drive 1
 * takes nothing; the reader then wants slot 0 again (sequence 2). */
static void fill_two(struct buffer_ring *r)
{
    for (uint64_t seq = 0; seq < 2; seq++) {
        ring_acquire(r, seq);
        ring_publish(r);
        struct ring_slot *s = ring_next(r, 0);
        assert_non_null(s);
        ring_release(r, 0, s);
    }
}

static void setup(struct buffer_ring *r, struct log *l, bool may_lag1, unsigned lag_after_ms)
{
    assert_int_equal(ring_init(r, 2, 4096, 2), 0);
    r->may_lag[0] = true;
    r->may_lag[1] = may_lag1;
    r->lag_after_ms = lag_after_ms;
    r->on_skip = on_skip;
    r->proved_slow = proved_slow;
    r->arg = l;
}

static void proved_slow_is_left_behind_at_once(void **state)
{
    (void)state;
    struct buffer_ring r;
    struct log l = { .proved = true };
    setup(&r, &l, true, 600000);        /* ten minutes of time lost would be needed otherwise */
    fill_two(&r);
    alarm(20);
    struct ring_slot *s = ring_acquire(&r, 2);
    alarm(0);
    assert_non_null(s);
    assert_int_equal(l.skips, 1);
    assert_int_equal(l.skipped_consumer, 1);
    assert_int_equal(l.skipped_seq, 0);
    /* It goes on from the newest slot there is: slot 1, then nothing owed twice. */
    ring_publish(&r);
    struct ring_slot *n = ring_next(&r, 1);
    assert_non_null(n);
    assert_int_equal(l.skips, 2);       /* slot 1 was the newest but one: owed too */
    assert_int_equal(n->seq, 2);
    ring_release(&r, 1, n);
    ring_destroy(&r);
}

static void unproved_is_left_behind_after_time_lost(void **state)
{
    (void)state;
    struct buffer_ring r;
    struct log l = { .proved = false };
    setup(&r, &l, true, 60);
    fill_two(&r);
    alarm(20);
    struct ring_slot *s = ring_acquire(&r, 2);
    alarm(0);
    assert_non_null(s);
    assert_int_equal(l.skips, 1);
    assert_int_equal(l.skipped_consumer, 1);
    ring_destroy(&r);
}

struct reader {
    struct buffer_ring *r;
    atomic_int done;
};

static void *acquire_two(void *arg)
{
    struct reader *rd = arg;
    ring_acquire(rd->r, 2);
    atomic_store(&rd->done, 1);
    return NULL;
}

/* A hasher (may not lag) that has not taken slot 0 is waited for, proved or not. */
static void a_hasher_is_waited_for(void **state)
{
    (void)state;
    struct buffer_ring r;
    struct log l = { .proved = true };
    setup(&r, &l, false, 1);
    fill_two(&r);
    struct reader rd = { .r = &r };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, acquire_two, &rd), 0);
    usleep(200 * 1000);
    assert_int_equal(atomic_load(&rd.done), 0);     /* still waiting: nothing may be skipped */
    struct ring_slot *s = ring_next(&r, 1);
    assert_int_equal(s->seq, 0);
    ring_release(&r, 1, s);
    alarm(20);
    pthread_join(t, NULL);
    alarm(0);
    assert_int_equal(atomic_load(&rd.done), 1);
    assert_int_equal(l.skips, 0);
    ring_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(proved_slow_is_left_behind_at_once),
        cmocka_unit_test(unproved_is_left_behind_after_time_lost),
        cmocka_unit_test(a_hasher_is_waited_for),
    };
    return cmocka_run_group_tests_name("buffer_ring", tests, NULL, NULL);
}
