/* qjob: the station's record of one queued job: what was asked, the drives
 * as confirmed, what it touches, its thread, its log lines, rates and watch.
 * The queue (jobs/job_queue.h) owns these; the watch and the log file read them. */
#ifndef CB_QJOB_H
#define CB_QJOB_H

#include "jobs/job_run.h"
#include "jobs/watch_state.h"

#include <pthread.h>
#include <stdbool.h>

#define JQ_MAX_JOBS 64
#define JQ_KEY 80
#define JQ_LOG_LINES 64
#define JQ_RATE_SAMPLES 120

enum qjob_state {
    QJOB_QUEUED,
    QJOB_RUNNING,
    QJOB_DONE,              /* copied (and verified) */
    QJOB_DONE_BAD,          /* finished with unreadable sectors */
    QJOB_FAILED,            /* failed, mismatch, or refused when it came to start */
    QJOB_CANCELLED,
};

struct qjob {
    int id;
    enum qjob_state state;
    enum job_kind kind;
    char source[256];
    char targets[JOB_MAX_TARGETS][256];
    size_t ntargets;
    struct job_request req;           /* points into this struct's strings and identities */
    const char *target_ptrs[JOB_MAX_TARGETS];
    /* The drives as they were when the job was confirmed (all zero for files):
     * a job that waits keeps these, not /dev names, and is refused at its
     * start when a drive is no longer the one confirmed. */
    struct dev_ident source_ident;
    struct dev_ident target_idents[JOB_MAX_TARGETS];
    char map_path[4096];
    /* What it touches, as comparable keys: "b:MAJ:MIN" (whole drive), "f:DEV:INO", "p:PATH". */
    char src_key[JQ_KEY];
    char tgt_keys[JOB_MAX_TARGETS][JQ_KEY];

    struct job *job;              /* set while running and after */
    pthread_t thread;
    bool cancel_asked;
    unsigned phases_logged;             /* entries of the progress phase history logged */
    char verdict[600];                  /* "VERIFIED sha256 ab12...", "FAILED: why" */
    char report_path[4200];
    char log[JQ_LOG_LINES][640];        /* long enough for a whole verdict: messages are never cut */
    int nlog;                           /* lines written; the last JQ_LOG_LINES are kept */
    uint64_t rates[JQ_RATE_SAMPLES];    /* bytes/s, one a second, for the sparkline */
    int nrates;
    struct job_watch watch;             /* each target's rate, slow mark and stalls */
    bool end_taken;                     /* jq_take_ended has handed it out */
};

const char *qjob_state_name(enum qjob_state s);
/* Append a timestamped line to the job's log. */
void qjob_log(struct qjob *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
