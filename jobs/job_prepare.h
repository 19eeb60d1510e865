/* job_prepare: every check that can refuse a job, and the opening of what
 * it reads and writes, before a single byte is written.
 *
 * Same device, overlapping devices, mounted, system, read-only, too small,
 * in use, a drive that is no longer the one confirmed; then the source and
 * targets opened, the domain (--mode used), the partition plan, the image's
 * destination and the map. The run (jobs/job_run.h) calls these. */
#ifndef CB_JOB_PREPARE_H
#define CB_JOB_PREPARE_H

#include "jobs/job.h"

/* The request as its names make it (jobs/job_kinds.h: name_request). */
struct job_request job_named_request(const struct job_request *req);
/* The job's fields that come straight from the (named) request: no I/O but
 * stat. 0, or -errno with err (no target, too many, two images). */
int job_alloc(const struct job_request *req, struct job **out, struct cb_error *err);
/* Identity and safety only (no media read, no image opened): fast enough for
 * a UI thread. 0 or a refusal with err. */
int job_prepare_check(struct job *job, const struct job_request *req, struct cb_error *err);
/* Everything: the checks, then open, plan, map (media reads, filesystem
 * bitmaps, resize2fs -P). 0 or a refusal with err; nothing written. */
int job_prepare_open(struct job *job, const struct job_request *req, struct cb_error *err);

#endif
