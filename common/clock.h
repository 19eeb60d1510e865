/* clock: seconds on the monotonic clock, for rates and phase timings. */
#ifndef CB_CLOCK_H
#define CB_CLOCK_H

#include <time.h>

static inline double cb_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
