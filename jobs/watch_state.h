/* watch_state: what the station keeps of each running job's targets, to
 * tell which drive holds the job back or has stopped answering. The record
 * of a queued job (jobs/qjob.h) holds one; jobs/job_watch.h fills it. */
#ifndef CB_WATCH_STATE_H
#define CB_WATCH_STATE_H

#include "jobs/job.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define WATCH_STALL_DEFAULT 30      /* seconds without an answer before a drive is "not answering" */

struct watch_target {
    uint64_t last_bytes, last_busy_ns;
    uint64_t rate;                  /* bytes/s over the last sample */
    uint64_t own_rate;              /* bytes per busy second, smoothed: the drive's own speed */
    bool slow;                      /* its own speed is under half the fastest other target's */
    time_t stalled_since;           /* wall clock; 0 while it answers */
    time_t stalled_first;           /* the first stall of the job (for the report), 0 none */
    int stalled_seconds;            /* longest stall seen */
};

struct job_watch {
    struct watch_target t[JOB_MAX_TARGETS];
    int holding_back;               /* the slow or stalled target that holds the job back, -1 none */
    time_t source_stalled_since;    /* the source stopped giving data, 0 while it does */
    time_t source_stalled_first;
    uint64_t last_pos, last_done;
    double last_sample, last_move;  /* monotonic seconds */
    /* The job's own rate, from its bytes done as the UI samples them: the
     * engine's rate_now is ticked by its reader, which waits on the ring
     * while a slow target writes, and would say 0 for a job that moves. */
    uint64_t done_rate, last_rate_done;
};

#endif
