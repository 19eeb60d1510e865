/* image_browse: the station's "Browse image" below the screen.
 *
 * The image files a store holds; the folders of a partition of an image
 * mounted read-only by jobs/image_mount (the one mount implementation); and
 * copying chosen files and folders out to the store, each file's bytes
 * counted and its copy's size checked against the size the image lists. A
 * file that cannot be read (EIO from a damaged frame of the image) or written
 * is named with the reason, its partial copy removed, and the others go on.
 * browse_copy_start runs the copy in its own thread, so the station's loop
 * never waits on the image; browse_copy_run is the same work for a caller
 * that may wait (the command line, the unit tests). */
#ifndef CB_IMAGE_BROWSE_H
#define CB_IMAGE_BROWSE_H

#include "common/cb_error.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BROWSE_NAME_MAX 256
#define BROWSE_WHY_MAX 700

enum browse_kind { BROWSE_FILE, BROWSE_DIR, BROWSE_LINK, BROWSE_OTHER };

struct browse_entry {
    char name[BROWSE_NAME_MAX];
    enum browse_kind kind;
    uint64_t size;              /* a file's bytes (lstat) */
};

/* The images in dir: FILE.zst, a split image as FILE.zst (its FILE.zst.000
 * found), raw FILE.img; sorted by name. *out malloc'ed. 0 or -errno (err). */
int browse_find_images(const char *dir, char (**out)[BROWSE_NAME_MAX], size_t *n, struct cb_error *err);

/* What dir holds, folders first, then by name ("." and ".." left out).
 * *out malloc'ed. 0 or -errno (err names dir). */
int browse_list(const char *dir, struct browse_entry **out, size_t *n, struct cb_error *err);

/* Where files out of image go in store: STORE/NAME-files, NAME the image's
 * file name without .zst, .zst.000 or .img. */
void browse_dest_folder(const char *store, const char *image, char *out, size_t len);

/* One chosen file or folder: root/rel is copied to DEST/into/rel. */
struct browse_pick {
    char root[4200];            /* the partition's mount folder */
    char rel[4096];             /* inside it, no leading '/' */
    char into[32];              /* "p2": the partition's folder in DEST */
};

/* Written by the copying thread, read by anyone (cancel the other way). */
struct browse_progress {
    _Atomic uint64_t bytes_done, bytes_total;
    _Atomic size_t files_done, files_total;
    _Atomic bool cancel;
};

struct browse_result {
    size_t files_listed;        /* plain files and links found under the picks */
    size_t files_copied;        /* copied whole, each size checked */
    uint64_t bytes_listed;      /* the sizes the image lists for them */
    uint64_t bytes_copied;      /* bytes written by copies that succeeded */
    size_t nfailed;
    char (*failed)[BROWSE_WHY_MAX];     /* "p2/docs/x.bin: not copied: why", malloc'ed */
    bool cancelled;
};

/* Copy picks into dest (made if need be). 0 when the copy ran (res says what
 * failed, file by file), or -errno when it could not start (err). */
int browse_copy_run(const struct browse_pick *picks, size_t n, const char *dest, struct browse_progress *p,
                    struct browse_result *res, struct cb_error *err);
void browse_result_free(struct browse_result *r);

struct browse_copy;
/* browse_copy_run in a thread of its own (picks copied). 0 or -errno (err). */
int browse_copy_start(const struct browse_pick *picks, size_t n, const char *dest, struct browse_copy **out,
                      struct cb_error *err);
bool browse_copy_done(const struct browse_copy *c);
struct browse_progress *browse_copy_progress(struct browse_copy *c);
/* Join the thread (asking it to stop first when cancel), hand over its
 * result, free c. Returns browse_copy_run's value, err its error. */
int browse_copy_finish(struct browse_copy *c, bool cancel, struct browse_result *res, struct cb_error *err);

/* image_mount in a thread of its own: opening an image forks its helper,
 * attaches a loop device and mounts partitions, which takes a moment the
 * station's loop must not wait. */
struct image_mount;
struct browse_open;
/* 0 or -errno (err): the thread could not start. */
int browse_open_start(const char *image, const char *dir, struct browse_open **out, struct cb_error *err);
bool browse_open_done(const struct browse_open *o);
/* Join the thread, free o: image_mount's value, m filled when 0, else err
 * (nothing is left mounted). */
int browse_open_finish(struct browse_open *o, struct image_mount *m, struct cb_error *err);

#endif
