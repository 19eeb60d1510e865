#include "common/safe_file.h"
#include "common/cb_error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Refuse what is not a plain file even after O_EXCL: a filesystem that
 * ignores the flags (some FUSE ones) must not hand back a device. */
static int plain_or_close(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -EEXIST;
    }
    return fd;
}

int safe_file_create(const char *path, int flags, mode_t mode)
{
    flags &= ~(O_TRUNC | O_APPEND);
    int fd = open(path, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    return plain_or_close(fd);
}

/* A stream over fd (or -errno) just created as path; the file goes when the
 * stream cannot be had. */
static FILE *stream_of(int fd, const char *path)
{
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
    }
    return f;
}

FILE *safe_file_fcreate(const char *path, mode_t mode)
{
    return stream_of(safe_file_create(path, O_WRONLY, mode), path);
}

int safe_file_temp(const char *path, mode_t mode, char *tmp, size_t len)
{
    if ((size_t)snprintf(tmp, len, "%s.tmp-XXXXXX", path) >= len)
        return -ENAMETOOLONG;
    /* mkostemp creates with O_EXCL, so a link under the name is never followed. */
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    fd = plain_or_close(fd);
    if (fd < 0)
        return fd;
    if (fchmod(fd, mode) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return -e;
    }
    return fd;
}

int safe_file_replace(int fd, const char *tmp, const char *path)
{
    int rc = fsync(fd) == 0 ? 0 : -errno;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

FILE *safe_file_ftemp(const char *path, mode_t mode, char *tmp, size_t len)
{
    return stream_of(safe_file_temp(path, mode, tmp, len), tmp);
}

int safe_file_freplace(FILE *f, const char *tmp, const char *path)
{
    int rc = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0 ? 0 : -(errno ? errno : EIO);
    if (fclose(f) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

int safe_file_scratch(const char *parent, const char *what, char *dir, size_t dlen, char *path, size_t plen)
{
    path[0] = '\0';
    if ((size_t)snprintf(dir, dlen, "%s/clonebay-%s-XXXXXX", parent, what) >= dlen) {
        dir[0] = '\0';
        return -ENAMETOOLONG;
    }
    if (!mkdtemp(dir)) {
        int e = errno;
        dir[0] = '\0';
        return -e;
    }
    int fd = -ENAMETOOLONG;
    if ((size_t)snprintf(path, plen, "%s/%s-XXXXXX", dir, what) < plen) {
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
            fd = -errno;
    }
    if (fd < 0) {
        path[0] = '\0';
        safe_file_scratch_remove(dir, path);
        dir[0] = '\0';
    }
    return fd;
}

void safe_file_scratch_remove(const char *dir, const char *path)
{
    if (path[0])
        unlink(path);
    if (dir[0])
        rmdir(dir);
}

const char *safe_file_odd_kind(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0 || S_ISREG(st.st_mode))
        return NULL;
    if (S_ISLNK(st.st_mode))
        return "a symbolic link";
    if (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))
        return "a device node";
    if (S_ISDIR(st.st_mode))
        return "a folder";
    return "not a plain file";
}

int safe_file_write_report(const char *path, void (*write)(FILE *f, const void *obj, const char *version),
                           const void *obj, const char *version, struct cb_error *err)
{
    char tmp[4200];
    FILE *f = safe_file_ftemp(path, 0644, tmp, sizeof(tmp));
    if (!f)
        return cb_error_set(err, -errno, "cannot write report %s: %s", path, strerror(errno));
    write(f, obj, version);
    int rc = safe_file_freplace(f, tmp, path);
    return rc ? cb_error_set(err, rc, "cannot write report %s: %s", path, strerror(-rc)) : 0;
}
