/* job_watch: each target of a running job watched on its own.
 *
 * In a one-to-many copy every target advances at the slowest one's pace (the
 * buffer ring is bounded), so a job's single progress line cannot say which
 * drive holds it back, or that one has stopped answering. The engine keeps
 * per-target counters (struct engine_target: bytes, time spent inside requests,
 * the request in flight); once a second the queue's owner samples them here
 * into rates, the drive's own speed (bytes per second of its busy time), a
 * `slow` mark and stalls. Only the queue's owner thread touches a job_watch. */
#ifndef CB_JOB_WATCH_H
#define CB_JOB_WATCH_H

#include "jobs/qjob.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* What one target line says. */
enum tgt_state {
    TGT_WAITING,                    /* the job is queued */
    TGT_PREPARING,
    TGT_WRITING,
    TGT_VERIFYING,
    TGT_WRITTEN,                    /* finished, not verified (or the job ended before verifying) */
    TGT_VERIFIED,
    TGT_FAILED,
    TGT_CANCELLED,
};

struct target_view {
    enum tgt_state state;
    const char *word;               /* "writing", "VERIFIED", "FAILED", ... */
    char why[300];                  /* the reason of a failure, "" otherwise */
    uint64_t done, total, rate;
    bool slow;
    time_t stalled_since;           /* 0: answering */
};

struct qjob;
void watch_reset(struct job_watch *w);
/* Once a second for a running job; logs stalls as they begin and end. */
void watch_sample(struct qjob *j, int stall_seconds);
/* After the job's thread is joined: its stalls as notes for the report. */
void watch_notes(struct qjob *j);
/* Target i of job j, now (the owner thread). */
void watch_target_view(const struct qjob *j, size_t i, struct target_view *v);
/* true when the job copies through the engine's per-target writers (not an image file). */
bool watch_has_targets(const struct qjob *j);

#endif
