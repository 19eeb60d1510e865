/* part_file: an image kept as one file or as numbered parts (FILE.000,
 * FILE.001, ...: --split, for FAT32 sticks), read and written as one byte
 * stream. The parts concatenated are the image itself. */
#ifndef CB_PART_FILE_H
#define CB_PART_FILE_H

#include "common/cb_error.h"

#include <stdint.h>
#include <sys/types.h>

#define PART_MAX 10000

struct part_file {
    int nparts;
    int *fds;
    uint64_t *starts;       /* stream offset of each part; starts[nparts] is the size */
    uint64_t size;
    char path[4096];        /* what the user named (FILE, or FILE with parts FILE.NNN) */
    struct http_range *http;/* an image served over HTTP (no parts, no fds), or NULL */
};

/* Open FILE, or FILE.000, FILE.001, ... when FILE does not exist (FILE.000
 * given: the same), or http://HOST/PATH (clone/http_range.h). Read-only. */
int part_file_open(struct part_file *pf, const char *path, struct cb_error *err);
ssize_t part_file_pread(struct part_file *pf, void *buf, size_t len, uint64_t off);
/* Why the last read failed, in words, when errno says too little (a server's
 * answer), or NULL. */
const char *part_file_why(const struct part_file *pf);
void part_file_close(struct part_file *pf);

/* Sequential writer: parts no bigger than split (0: one file). Files are
 * named NAME.partial or NAME.partial.NNN (one image for
 * part_file_open("NAME.partial")) until part_writer_commit renames them. */
struct part_writer {
    char name[4096];
    uint64_t split;
    int fd, index;
    uint64_t in_part, total;
};

/* Every part is created new (common/safe_file): a part already there is
 * refused, never truncated, whether another job is writing it or it is a link
 * or device node someone left. Once part 0 is created the name is this
 * writer's, and leftover parts of an older, longer split are deleted. */
int part_writer_open(struct part_writer *w, const char *name, uint64_t split, struct cb_error *err);
/* Go on with NAME.partial[.NNN] of an interrupted run: the stream is cut to
 * its first keep bytes (later parts removed) and writing continues there. */
int part_writer_resume(struct part_writer *w, const char *name, uint64_t split, uint64_t keep,
                       struct cb_error *err);
int part_writer_write(struct part_writer *w, const void *buf, size_t len, struct cb_error *err);
/* fsync, close, and rename every part to its final name, never over a file
 * that is there (-EEXIST). */
int part_writer_commit(struct part_writer *w, struct cb_error *err);
/* Close and delete what was written (a failed or cancelled image). */
void part_writer_abort(struct part_writer *w);
/* Call fn(path, index, arg) for every file base.NNN in base's folder, in no
 * order and whatever the gaps; stops at fn's first non-zero return. 0 or -errno. */
int part_names_each(const char *base, int (*fn)(const char *path, int index, void *arg), void *arg);
/* Remove base.NNN for every part number above after; after < 0: every part
 * and base itself too (a whole image, in one file or in parts). */
void part_files_remove(const char *base, int after);
/* Why a file clonebay was about to create (path) cannot be, in the
 * technician's words: another job writing it, a leftover, or a link or device
 * node someone put there (rc -EEXIST), or rc's reason. Returns rc. */
int part_name_refusal(const char *path, int rc, struct cb_error *err);
/* rename that never replaces: an image that appeared under the final name
 * while this one was written (another station, by hand) is not destroyed.
 * 0, -EEXIST, or -errno. */
int part_rename_new(const char *from, const char *to);
/* Path of part index (final or partial name). */
void part_writer_path(const struct part_writer *w, int index, int partial, char *buf, size_t len);

#endif
