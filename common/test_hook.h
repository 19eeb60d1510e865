/* test_hook: let a test act between two steps of a job.
 *
 * With the environment variable NAME set to a path P, cb_test_pause(NAME)
 * creates P.ready and waits (up to a minute) for P.go. Without it, nothing
 * happens. Tests use it to damage a target behind the engine's back. */
#ifndef CB_TEST_HOOK_H
#define CB_TEST_HOOK_H

void cb_test_pause(const char *env_name);

#endif
