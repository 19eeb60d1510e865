/* safe_file: files root creates in folders it does not own alone.
 *
 * Images and reports go to stores on drives a technician brought in, and
 * those may hold anything: a symbolic link or a device node planted under
 * the name clonebay is about to use would send root's writes to another
 * file or drive. So every such file is created new, never opened if it is
 * already there (O_CREAT|O_EXCL|O_NOFOLLOW), and checked to be a plain file;
 * a file that must be replaced is written under a fresh temporary name and
 * renamed over the old one (rename replaces a link, never follows it). */
#ifndef CB_SAFE_FILE_H
#define CB_SAFE_FILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Create path, which must not exist in any form (file, link, device, folder).
 * flags: the access mode (O_CREAT, O_EXCL, O_NOFOLLOW and O_CLOEXEC are
 * added; not O_DIRECT: some filesystems create the file and then refuse it,
 * so reopen for direct I/O). Returns the descriptor, or -errno: -EEXIST when
 * anything is there already. */
int safe_file_create(const char *path, int flags, mode_t mode);

/* The same as a stream open for writing ("w"). NULL with errno set. */
FILE *safe_file_fcreate(const char *path, mode_t mode);

/* A new temporary file next to path (path.tmp-XXXXXX), mode, for writing;
 * its name in tmp. Descriptor or -errno. Finish with safe_file_replace. */
int safe_file_temp(const char *path, mode_t mode, char *tmp, size_t len);

/* fsync and close fd, then rename tmp over path; on any failure tmp is
 * removed. 0 or -errno. */
int safe_file_replace(int fd, const char *tmp, const char *path);

/* The same as safe_file_temp, as a
 * stream for writing; its name in tmp. NULL with errno set. Finish with
 * safe_file_freplace. */
FILE *safe_file_ftemp(const char *path, mode_t mode, char *tmp, size_t len);

/* Flush, fsync and close f, then rename tmp over path; on any failure tmp is
 * removed. 0 or -errno. */
int safe_file_freplace(FILE *f, const char *tmp, const char *path);

/* A report written whole by write(f, obj, version) into a fresh temp file
 * renamed over path: a link planted under either name is replaced, never
 * written through. 0, or -errno with err naming path. */
struct cb_error;
int safe_file_write_report(const char *path, void (*write)(FILE *f, const void *obj, const char *version),
                           const void *obj, const char *version, struct cb_error *err);

/* A scratch file no other user can reach: a new folder parent/clonebay-what-
 * XXXXXX made 0700 (mkdtemp), and in it what-XXXXXX made 0600 (mkstemp).
 * dir and path get their names. Descriptor or -errno. */
int safe_file_scratch(const char *parent, const char *what, char *dir, size_t dlen, char *path, size_t plen);

/* Remove a scratch file and its folder ("" for either: nothing to remove). */
void safe_file_scratch_remove(const char *dir, const char *path);

/* What a name holds when it is not a plain file ("a symbolic link", "a
 * device node", ...), for messages; NULL when it is a plain file or absent. */
const char *safe_file_odd_kind(const char *path);

#endif
