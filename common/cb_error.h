/* cb_error: the one error record every layer fills for a human.
 *
 * Functions return 0 or a negative errno; when a technician needs more than
 * the errno, they also fill a struct cb_error whose message is a sentence that
 * names the device or file (and offset) involved. */
#ifndef CB_ERROR_H
#define CB_ERROR_H

#include <stddef.h>

#define CB_ERROR_MSG_MAX 512

struct cb_error {
    int code;                       /* negative errno, 0 when unset */
    char msg[CB_ERROR_MSG_MAX];     /* sentence for the technician */
};

/* Record an error; returns code so callers can `return cb_error_set(...)`. */
int cb_error_set(struct cb_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void cb_error_clear(struct cb_error *err);

#endif
