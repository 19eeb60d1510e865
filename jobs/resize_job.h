/* resize_job: the part of a clone job that fits the source's partitions onto
 * targets of another size (--resize proportional|keep).
 *
 * Before any target is written, the plan is made (refusals name the partition
 * that does not fit) and every ext filesystem that must shrink is copied into
 * a sparse scratch file and shrunk there with resize2fs, so the source is only
 * ever read. The engine then copies the boot-loader gap and the partitions to
 * their new places through an io_remap, hashing and verifying as usual. After
 * verification the new table is written, the kernel told, the shrunk
 * filesystems copied (and verified) from their scratch files, and grown
 * filesystems grown to fill their partitions. Targets of different sizes
 * each get their own plan from the one read of the source: a filesystem
 * that shrinks on any of them is shrunk once, to the least any plan gives
 * it, and grown again on the targets that give it more. */
#ifndef CB_RESIZE_JOB_H
#define CB_RESIZE_JOB_H

#include "clone/layout.h"
#include "jobs/job.h"

/* Decide and plan. 0 when there is nothing to resize (job->resize stays NULL)
 * or a plan was made; -errno with err when a target cannot take the layout. */
int resize_job_prepare(struct job *job, enum layout_resize how, struct cb_error *err);
/* The domain (what the engine copies): the plan's extents, intersected with
 * the used blocks when job->used_only. 0 or -errno. */
int resize_job_domain(struct job *job, struct cb_error *err);
/* Shrink filesystems in scratch files; no target is written. 0 or -errno. */
int resize_job_before(struct job *job, struct cb_error *err);
/* After the copy was verified: table, kernel, scratch copies, growing. */
int resize_job_after(struct job *job, struct cb_error *err);
void resize_job_free(struct job *job);
/* Target t's plan, for reports: "target /dev/sdc: partitions fitted to N bytes
 * (gpt): #1 vfat 100.0 MiB; #2 ext4 1.0 GiB -> 1.5 GiB;" ("target ...: " only
 * when the job has several). */
void resize_job_describe_target(const struct job *job, size_t t, char *buf, size_t len);

#endif
