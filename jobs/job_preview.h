/* job_preview: what a job would do, worked out before it is confirmed.
 *
 * The station's confirmation screen shows each target's plan (partitions and
 * sizes) or the refusal, but preparing a job reads the drives (filesystem
 * bitmaps, resize2fs -P, ntfsresize --info): slow on a failing drive. So the
 * preparation runs in a thread of the preview's own, nothing is written, and
 * the owner polls it from its loop (the thread notifies event_fd when done).
 * The owner joins it with job_preview_free(), once job_preview_done() says so
 * (job_preview_free on an unfinished preview waits for it). */
#ifndef CB_JOB_PREVIEW_H
#define CB_JOB_PREVIEW_H

#include "jobs/job_run.h"

#include <stdbool.h>

#define PREVIEW_NOTES 12

struct job_preview;

/* Start working out req (copied, with its strings). 0 or -errno. */
int job_preview_start(const struct job_request *req, int event_fd, struct job_preview **out);
bool job_preview_done(const struct job_preview *p);
/* After done: NULL when the job would be accepted, else the refusal. */
const char *job_preview_refusal(const struct job_preview *p);
/* After done: the job's notes (plans among them), and how many. */
const char (*job_preview_notes(const struct job_preview *p, int *n))[512];
void job_preview_free(struct job_preview *p);

#endif
