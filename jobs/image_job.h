/* image_job: the image side of a clone_job (clonebay image / restore).
 *
 * clone_job_prepare() calls these for JOB_IMAGE (where the image goes, with
 * every refusal before a byte is written) and JOB_RESTORE (the image, checked
 * whole before any target is touched); clone_job_run() calls image_job_run()
 * for compressed images and image_job_finish_raw() after a raw one. */
#ifndef CB_IMAGE_JOB_H
#define CB_IMAGE_JOB_H

#include "devices/sysfs.h"
#include "jobs/clone_job.h"

#include <sys/types.h>

/* JOB_IMAGE: name the image, refuse an existing one (unless force), an image
 * on the source drive, or one that cannot fit; for raw images, create the
 * sparse FILE.partial target. src_dev: the source's device number (block) or
 * the filesystem it lives on (file). */
int image_job_prepare_dest(struct clone_job *job, const struct clone_request *req, bool src_is_block,
                           dev_t src_dev, const struct sysfs_ctx *ctx, struct cb_error *err);

/* JOB_RESTORE: open and check the image; job->source describes it. */
int image_job_open_source(struct clone_job *job, const char *path, struct cb_error *err);
/* receive: the image on stream (its header read); job->source describes it. */
int image_job_open_stream(struct clone_job *job, struct image_stream *stream, struct cb_error *err);

/* JOB_IMAGE, compressed: write, verify, rename. Sets the outcome. */
enum job_outcome image_job_run(struct clone_job *job);

/* JOB_IMAGE, raw: after the copy, rename FILE.partial (or remove it on failure). */
void image_job_finish_raw(struct clone_job *job);

/* Names that decide a job: .img or .iso is a plain (raw) disk image; .iso or
 * .iso.zst is a disc's ISO 9660 volume. */
bool image_job_raw_name(const char *path);
bool image_job_iso_name(const char *path);

/* "FILE.zst" for FILE; FILE.zst and FILE.img are kept as given. */
void image_job_final_name(const char *given, bool raw, char *out, size_t len);

#endif
