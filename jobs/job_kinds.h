/* job_kinds: what a clone, an image and a restore do differently, as tables
 * (struct job_kind_ops, jobs/job.h).
 *
 * One run prepares and runs every job (jobs/job_run.c); where the kinds
 * differ it asks the job's table, never its kind. A clone reads a drive or
 * a file and writes drives and files (and at most one FILE.zst image beside
 * them); an image reads a drive or file and makes one image file; a restore
 * decodes an image (a file, or a stream from the network) onto drives. */
#ifndef CB_JOB_KINDS_H
#define CB_JOB_KINDS_H

#include "jobs/job.h"


const struct job_kind_ops *job_kind_ops(enum job_kind kind);
const char *job_kind_name(enum job_kind kind);

#endif
