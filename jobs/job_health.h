/* job_health: the SMART health of a job's drives, for its report.
 *
 * A customer's file says what state the drives were in: the source's health
 * before the job and after it (a failing drive can get worse while it is
 * read), and each target's before it is written. Read in the job's own
 * thread (smartctl takes seconds on some drives), never on a UI thread. */
#ifndef CB_JOB_HEALTH_H
#define CB_JOB_HEALTH_H

#include "devices/dev_types.h"

struct job;
struct job_endpoint;

/* When a drive is described: whether SMART applies to it ("unknown" with
 * the reason now when it does not: a loop, a virtual disk). */
void job_health_init(struct job_endpoint *ep, const struct dev_drive *d);
/* Prepared, before the first write: the source's and every target's health. */
void job_health_before(struct job *job);
/* The run is over: the source's health again. */
void job_health_after(struct job *job);

#endif
