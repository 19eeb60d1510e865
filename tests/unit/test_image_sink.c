/* Unit tests for clone/image_sink's memory plan: whatever the level and the
 * core count, the frames in flight and the compressors fit the job's bound
 * beside the engine's ring, and what can keep the full window does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clone/engine.h"
#include "clone/image_sink.h"

#define BUDGET (IMG_JOB_MEMORY - IMG_JOB_RESERVE - (size_t)ENGINE_IMAGE_SLOTS * ENGINE_SLOT_SIZE)

static void every_level_and_core_count_fits(void **state)
{
    (void)state;
    static const int cores[] = { 1, 2, 4, 16, 64 };
    for (int level = 1; level <= 19; level++) {
        for (size_t i = 0; i < sizeof(cores) / sizeof(cores[0]); i++) {
            struct image_plan p;
            assert_int_equal(image_sink_plan(level, cores[i], BUDGET, &p), 0);
            assert_true(p.workers >= 1 && p.workers <= cores[i] && p.workers <= IMG_MAX_WORKERS);
            assert_int_equal(p.buffers, p.workers + 1);
            assert_true(p.buffer_bytes >= IMG_FRAME_SIZE);
            assert_true(p.window_log >= 10 && p.window_log <= IMG_WINDOW_LOG);
            assert_int_equal(p.total_bytes, (size_t)(p.buffers + p.workers) * p.buffer_bytes +
                                                (size_t)p.workers * p.cctx_bytes);
            if (p.total_bytes > BUDGET)
                fail_msg("level %d, %d cores: %zu bytes planned", level, cores[i], p.total_bytes);
        }
    }
}

static void cheap_levels_keep_the_window(void **state)
{
    (void)state;
    struct image_plan p;
    /* The default level: the frame-sized window and both cores of a bench PC. */
    assert_int_equal(image_sink_plan(3, 2, BUDGET, &p), 0);
    assert_int_equal(p.window_log, IMG_WINDOW_LOG);
    assert_int_equal(p.workers, 2);
    /* Level 19 (81 MiB a context at its own window): still at least 1 MiB. */
    assert_int_equal(image_sink_plan(19, 16, BUDGET, &p), 0);
    assert_true(p.window_log >= IMG_MIN_WINDOW_LOG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_level_and_core_count_fits),
        cmocka_unit_test(cheap_levels_keep_the_window),
    };
    return cmocka_run_group_tests_name("image_sink", tests, NULL, NULL);
}
