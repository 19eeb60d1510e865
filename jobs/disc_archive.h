/* disc_archive: "Archive discs" on optical drives. Each disc put in an
 * archiving drive is imaged to <folder>/<label>-<date>.iso (never over an
 * existing file), ejected when its job ends, and the drive waits for the
 * next one. Several drives archive at once; the running list says what was
 * archived and what failed. Driven from the owner's loop, like the queue. */
#ifndef CB_JOBS_DISC_ARCHIVE_H
#define CB_JOBS_DISC_ARCHIVE_H

#include "devices/dev_types.h"
#include "jobs/job_queue.h"

#include <stdbool.h>

#define ARCHIVE_DRIVES 8
#define ARCHIVE_LIST 32

struct archive_drive {
    char path[64];                      /* /dev/sr1 */
    int job_id;                         /* archiving the disc in it now, 0: none */
    bool disc_seen;                     /* this disc was handled: wait for it to leave */
    int archived, failed;
};

struct disc_archive {
    struct archive_drive drives[ARCHIVE_DRIVES];
    size_t count;
    char list[ARCHIVE_LIST][320];       /* newest last: "DISC_A -> /mnt/x/DISC_A-20261126.iso: VERIFIED ..." */
    size_t nlist;                       /* lines written; the last ARCHIVE_LIST are kept */
};

/* Start or stop archiving on an optical drive. true when it is now on. */
bool archive_toggle(struct disc_archive *a, const char *path);
const struct archive_drive *archive_find(const struct disc_archive *a, const char *path);

/* Look at the drives (a fresh scan) and the queue: start a backup for each new
 * disc into folder, eject the discs whose job ended and note the result.
 * Returns true when something changed. */
bool archive_tick(struct disc_archive *a, struct dev_list *devs, struct job_queue *q, const char *folder);

/* The file name for a disc: folder/<label or "disc">-<YYYYMMDD>.iso, with -2,
 * -3... when that exists. Characters unsafe in names become '_'. */
void archive_file_name(const char *folder, const char *label, time_t when, char *out, size_t len);

#endif
