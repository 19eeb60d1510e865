/* job_queue: the station's jobs, queued and run in parallel.
 *
 * A job waits while it conflicts with a running one: it would write what the
 * other reads or writes (the same whole drive, or the same file). Sources may
 * be shared: reading is harmless. Each job runs on its own thread; the owner
 * calls jq_tick() from its loop to start what may start, reap what ended
 * (write the reports, set the verdict) and log phase changes. Every job's
 * progress notifies one shared eventfd, so the owner can poll() a single fd.
 * Only the owner's thread touches the queue; a job thread touches its job. */
#ifndef CB_JOB_QUEUE_H
#define CB_JOB_QUEUE_H

#include "jobs/job_run.h"
#include "jobs/job_watch.h"
#include "jobs/qjob.h"

#include <pthread.h>
#include <stdatomic.h>

struct job_queue {
    struct qjob *jobs[JQ_MAX_JOBS];
    size_t count;
    int max_parallel;                   /* 0: as many as do not conflict */
    int event_fd;
    char reports_dir[4096];
    int next_id;
    int stall_seconds;                  /* no answer this long: "not answering" (0: WATCH_STALL_DEFAULT) */
};

int jq_init(struct job_queue *q, const char *reports_dir, int max_parallel, struct cb_error *err);
/* Queue a job (req is copied). The fast refusals (identity, system,
 * mounted, busy, read-only) come back now as -errno with err filled, and
 * nothing is queued; the slow preparation (media reads, plans) runs in the
 * job's thread when it starts, and a refusal there ends the job REFUSED
 * before it writes. The drives' identities are req's (what the operator
 * confirmed) or, without them, read now. Never blocks on a drive's media.
 * Returns the job id (> 0). */
int jq_submit(struct job_queue *q, const struct job_request *req, struct cb_error *err);
/* Start, reap, log. Returns true when something changed. */
bool jq_tick(struct job_queue *q);
/* Sample every running job's rate, and each target's (call once a second). */
void jq_sample_rates(struct job_queue *q);
void jq_cancel(struct job_queue *q, int id);
/* Forget finished jobs (their reports stay on disk). */
void jq_clear_finished(struct job_queue *q);
/* Forget one finished job (nothing when it is still queued or running). */
void jq_forget(struct job_queue *q, int id);
/* Take back a job refused as it came to start, when the refusal is shown where
 * it was asked for (the station's confirmation): its log goes to
 * REPORTS/jobs.log (it has no report), it is forgotten, and its number is
 * given back when it was the last one, so job numbers count jobs that ran. */
void jq_withdraw(struct job_queue *q, int id);
size_t jq_running(const struct job_queue *q);
size_t jq_active(const struct job_queue *q);        /* queued or running */
/* Cancel everything and wait for the threads. */
void jq_shutdown(struct job_queue *q);
/* true when an active job reads or writes this whole drive (for the BUSY flag). */
bool jq_uses_drive(const struct job_queue *q, unsigned major, unsigned minor);
struct qjob *jq_find(struct job_queue *q, int id);
/* A job that ended since the last call (each is handed out once), or NULL. */
struct qjob *jq_take_ended(struct job_queue *q);

/* The conflict rule: a writes what b touches, or b writes what a touches. */
bool jq_conflict(const struct qjob *a, const struct qjob *b);
/* The key of a path (see struct qjob). */
void jq_key_of(const char *path, char *key, size_t len);


#endif
