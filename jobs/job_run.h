/* job_run: one job of any kind, prepared and run start to finish.
 *
 * job_prepare() does every check that can refuse the job (same device,
 * overlapping devices, mounted, system, read-only, too small, in use) and
 * opens everything, before a single byte is written; the caller can then show
 * the identities and ask for confirmation. job_run() copies, verifies,
 * fixes a GPT on larger targets, and fills in the outcome for the report.
 * The job itself is jobs/job.h; what its kind does differently, jobs/job_kinds.h. */
#ifndef CB_JOB_RUN_H
#define CB_JOB_RUN_H

#include "jobs/job.h"
#include "jobs/job_kinds.h"

/* 0, or a refusal (-errno) with err saying why; nothing has been written. */
int job_prepare(const struct job_request *req, struct job **out, struct cb_error *err);
/* The checks that need no media read (identity, system, mounted, busy,
 * read-only, the same drive twice): fast enough for a UI thread. 0 or a
 * refusal with err filled. The rest is found by job_prepare. */
int job_preflight(const struct job_request *req, struct cb_error *err);
/* job_prepare in the job's own thread: the job is allocated now (no
 * I/O), prepared by job_thread, which ends it as OUTCOME_REFUSED when
 * preparing refuses. req (and its strings) must outlive the thread. */
int job_new_deferred(const struct job_request *req, struct job **out, struct cb_error *err);
/* Runs to the end (or cancel via job->progress.cancel); returns the outcome. */
enum job_outcome job_run(struct job *job);
/* pthread entry for job_run(job): sets job->run_finished and notifies
 * the progress event, so a UI waiting in poll() wakes and reaps it. */
void *job_thread(void *job);

void job_free(struct job *job);

#endif
