/* image_job: the image side of a job (clonebay image / restore).
 *
 * job_prepare() calls these for JOB_IMAGE (where the image goes, with
 * every refusal before a byte is written) and JOB_RESTORE (the image, checked
 * whole before any target is touched). An image is written by the same
 * engine as a clone (the same rescue, map and resume): raw, as a sparse file
 * target; compressed, through an image sink target. */
#ifndef CB_IMAGE_JOB_H
#define CB_IMAGE_JOB_H

#include "devices/sysfs.h"
#include "jobs/job.h"

#include <sys/types.h>

/* JOB_IMAGE: name the image, refuse an existing one (unless force), an image
 * on the source drive, or one that cannot fit, or one another job writes (a
 * FILE.partial without the map that resumes it); for raw images, create the
 * sparse FILE.partial target. src_dev: the source's device number (block) or
 * the filesystem it lives on (file). */
int image_job_prepare_dest(struct job *job, const struct job_request *req, bool src_is_block,
                           dev_t src_dev, const struct sysfs_ctx *ctx, struct cb_error *err);

/* JOB_RESTORE: open and check the image; job->source describes it. */
int image_job_open_source(struct job *job, const char *path, struct cb_error *err);
/* receive: the image on stream (its header read); job->source describes it. */
int image_job_open_stream(struct job *job, struct image_stream *stream, struct cb_error *err);

/* JOB_IMAGE, compressed: the image as the engine's target (clone/image_sink.h),
 * going on from FILE.partial when the job resumes a map. 0 or -errno (err). */
int image_job_open_sink(struct job *job, struct cb_error *err);

/* JOB_IMAGE, compressed, after the copy: the trailer (digests, unreadable
 * areas) and the seek table, so that verification reads the image as any
 * reader will. 0 or -errno (err). */
int image_job_seal(struct job *job, struct cb_error *err);

/* JOB_IMAGE, after the job: rename FILE.partial to its name when the job
 * succeeded; else remove it, or keep it for the map to resume. */
void image_job_finish(struct job *job);

/* Names that decide a job: .img or .iso is a plain (raw) disk image; .iso or
 * .iso.zst is a disc's ISO 9660 volume. */
bool image_job_raw_name(const char *path);
bool image_job_iso_name(const char *path);
/* .zst: a compressed image (also as one of a clone's targets). */
bool image_job_zst_name(const char *path);

/* "FILE.zst" for FILE; FILE.zst and FILE.img are kept as given. */
void image_job_final_name(const char *given, bool raw, char *out, size_t len);

#endif
