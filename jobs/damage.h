/* damage: after a job with unreadable sectors, which files they hit.
 *
 * The bad ranges of the job's map are looked up (clone/fs/owners) in the
 * rescued copy on the first target that did not fail, laid out by the
 * partition table that copy holds: the source is failing, and is not asked
 * again. The result is job->damaged, which the reports list. */
#ifndef CB_DAMAGE_H
#define CB_DAMAGE_H

#include "clone/image_read.h"
#include "jobs/job.h"

/* Fills job->damaged when the map has bad ranges; a note says why not when
 * the copy cannot be read that way (a fitted layout, a compressed image). */
void job_find_damaged(struct job *job);

/* The same for an image's recorded bad ranges (clonebay info): out filled
 * (empty when it records none). 0 or -ENOMEM; note says what could not be
 * done ("" when nothing). */
int damage_find_in_image(struct image *img, struct fs_owner_list *out, char *note, size_t note_len);

#endif
