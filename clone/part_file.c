#include "clone/part_file.h"
#include "clone/http_range.h"
#include "common/safe_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int add_part(struct part_file *pf, int fd, uint64_t size)
{
    int *fds = realloc(pf->fds, (size_t)(pf->nparts + 1) * sizeof(int));
    if (!fds)
        return -ENOMEM;
    pf->fds = fds;
    uint64_t *starts = realloc(pf->starts, (size_t)(pf->nparts + 2) * sizeof(uint64_t));
    if (!starts)
        return -ENOMEM;
    pf->starts = starts;
    pf->fds[pf->nparts] = fd;
    pf->starts[pf->nparts] = pf->size;
    pf->size += size;
    pf->starts[++pf->nparts] = pf->size;
    return 0;
}

static int open_one(struct part_file *pf, const char *path, struct cb_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cb_error_set(err, -EINVAL, "%s is not a regular file", path);
    }
    int rc = add_part(pf, fd, (uint64_t)st.st_size);
    if (rc) {
        close(fd);
        return cb_error_set(err, rc, "out of memory");
    }
    return 0;
}

int part_file_open(struct part_file *pf, const char *path, struct cb_error *err)
{
    memset(pf, 0, sizeof(*pf));
    if (http_range_is_url(path)) {
        snprintf(pf->path, sizeof(pf->path), "%s", path);
        if (!(pf->http = calloc(1, sizeof(*pf->http))))
            return cb_error_set(err, -ENOMEM, "out of memory");
        int rc = http_range_open(pf->http, path, err);
        if (rc) {
            part_file_close(pf);
            return rc;
        }
        pf->size = pf->http->size;
        return 0;
    }
    char base[4096];
    snprintf(base, sizeof(base), "%s", path);
    size_t n = strlen(base);
    bool numbered = n > 4 && !strcmp(base + n - 4, ".000");
    if (numbered)
        base[n - 4] = '\0';
    snprintf(pf->path, sizeof(pf->path), "%s", base);
    if (!numbered) {
        int rc = open_one(pf, base, err);
        if (rc != -ENOENT) {
            if (rc && !err->msg[0])
                cb_error_set(err, rc, "cannot open %s: %s", base, strerror(-rc));
            if (rc)
                part_file_close(pf);
            return rc;
        }
    }
    for (int i = 0; i < PART_MAX; i++) {
        char p[4200];
        snprintf(p, sizeof(p), "%s.%03d", base, i);
        int rc = open_one(pf, p, err);
        if (rc == -ENOENT && i > 0)
            break;
        if (rc) {
            if (rc == -ENOENT)
                cb_error_set(err, rc, "%s: no such file (nor %s.000 of a split image)", base, base);
            else if (!err->msg[0])
                cb_error_set(err, rc, "cannot open %s: %s", p, strerror(-rc));
            part_file_close(pf);
            return rc;
        }
    }
    return 0;
}

const char *part_file_why(const struct part_file *pf)
{
    return pf->http && pf->http->last_error[0] ? pf->http->last_error : NULL;
}

ssize_t part_file_pread(struct part_file *pf, void *buf, size_t len, uint64_t off)
{
    if (pf->http) {
        struct cb_error err = { 0 };
        return http_range_read(pf->http, buf, len, off, &err);
    }
    size_t got = 0;
    int i = 0;
    while (i < pf->nparts && pf->starts[i + 1] <= off)
        i++;
    while (got < len && i < pf->nparts) {
        uint64_t at = off + got;
        uint64_t in_part = at - pf->starts[i];
        uint64_t avail = pf->starts[i + 1] - at;
        size_t want = len - got < avail ? len - got : (size_t)avail;
        ssize_t r = pread(pf->fds[i], (char *)buf + got, want, (off_t)in_part);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;          /* the part shrank under us */
        got += (size_t)r;
        if (off + got >= pf->starts[i + 1])
            i++;
    }
    return (ssize_t)got;
}

void part_file_close(struct part_file *pf)
{
    for (int i = 0; i < pf->nparts; i++)
        close(pf->fds[i]);
    free(pf->fds);
    free(pf->starts);
    if (pf->http)
        http_range_close(pf->http);
    free(pf->http);
    pf->http = NULL;
    pf->fds = NULL;
    pf->starts = NULL;
    pf->nparts = 0;
}

void part_writer_path(const struct part_writer *w, int index, int partial, char *buf, size_t len)
{
    if (w->split)
        snprintf(buf, len, "%s%s.%03d", w->name, partial ? ".partial" : "", index);
    else
        snprintf(buf, len, "%s%s", w->name, partial ? ".partial" : "");
}

int part_names_each(const char *base, int (*fn)(const char *path, int index, void *arg), void *arg)
{
    char dir[4096];
    const char *slash = strrchr(base, '/');
    const char *name = slash ? slash + 1 : base;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - base) : 1, slash ? base : ".");
    if (slash == base)
        snprintf(dir, sizeof(dir), "/");
    size_t n = strlen(name);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *e;
    /* The folder is read whole: an older run may have left part 7 without 1 to 6. */
    while (!rc && (e = readdir(d))) {
        const char *s = e->d_name;
        if (strncmp(s, name, n) != 0 || s[n] != '.')
            continue;
        const char *digits = s + n + 1;
        size_t nd = strlen(digits);
        bool all = nd >= 3 && nd <= 5;
        for (size_t i = 0; all && i < nd; i++)
            all = isdigit((unsigned char)digits[i]);
        if (!all)
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", dir, s);
        rc = fn(path, atoi(digits), arg);
    }
    closedir(d);
    return rc;
}

int part_name_refusal(const char *path, int rc, struct cb_error *err)
{
    if (rc != -EEXIST)
        return cb_error_set(err, rc, "cannot create %s: %s", path, strerror(-rc));
    const char *odd = safe_file_odd_kind(path);
    if (odd)
        return cb_error_set(err, rc, "%s is %s, not a file clonebay made: refused, nothing was written to it "
                            "(remove it)", path, odd);
    return cb_error_set(err, rc, "%s already exists: another job is writing this image now, or an earlier run "
                        "was interrupted (then delete it)", path);
}

static int next_part(struct part_writer *w, struct cb_error *err)
{
    char p[4200];
    if (w->fd >= 0) {
        if (fsync(w->fd) != 0 || close(w->fd) != 0) {
            w->fd = -1;
            part_writer_path(w, w->index, 1, p, sizeof(p));
            return cb_error_set(err, -errno, "cannot write %s: %s", p, strerror(errno));
        }
        w->index++;
    }
    if (w->index >= PART_MAX)
        return cb_error_set(err, -EFBIG, "%s: more than %d parts: choose a larger --split", w->name, PART_MAX);
    part_writer_path(w, w->index, 1, p, sizeof(p));
    /* Never truncate or follow what is there: each part is a new file. */
    w->fd = safe_file_create(p, O_WRONLY, 0644);
    if (w->fd < 0) {
        int rc = w->fd;
        w->fd = -1;
        w->index--;         /* that name is not ours: abort must leave it */
        return part_name_refusal(p, rc, err);
    }
    w->in_part = 0;
    /* Held while this writer lives: a second run of the same --map job finds it taken. */
    flock(w->fd, LOCK_EX | LOCK_NB);
    return 0;
}

static int unlink_later_part(const char *path, int index, void *arg)
{
    if (index > *(const int *)arg)
        unlink(path);
    return 0;
}

void part_files_remove(const char *base, int after)
{
    if (after < 0)
        unlink(base);
    part_names_each(base, unlink_later_part, &after);
}

int part_writer_open(struct part_writer *w, const char *name, uint64_t split, struct cb_error *err)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->split = split;
    w->fd = -1;
    int rc = next_part(w, err);
    if (rc)
        return rc;
    /* NAME.partial and NAME.partial.000 are one image being written: the
     * other job took the name first when its form is there too. */
    char other[4200];
    if (split)
        snprintf(other, sizeof(other), "%s.partial", name);
    else
        snprintf(other, sizeof(other), "%s.partial.000", name);
    struct stat st;
    if (lstat(other, &st) == 0) {
        part_writer_abort(w);
        return cb_error_set(err, -EEXIST, "%s already exists: another job is writing this image now, or an earlier "
                            "run was interrupted (then delete it)", other);
    }
    /* Part 0 is ours now, so any later part is a leftover of an older, longer
     * run: read back with ours it would corrupt the image. */
    if (split) {
        char base[4200];
        snprintf(base, sizeof(base), "%s.partial", name);
        part_files_remove(base, 0);
    }
    return 0;
}

int part_writer_resume(struct part_writer *w, const char *name, uint64_t split, uint64_t keep,
                       struct cb_error *err)
{
    memset(w, 0, sizeof(*w));
    /* The parts on disk must be what this --split makes, or the cut would fall elsewhere. */
    char p0[4200];
    struct stat st;
    for (int i = 0; split; i++) {
        snprintf(p0, sizeof(p0), "%s.partial.%03d", name, i);
        if (lstat(p0, &st) != 0)
            break;
        bool whole = ((uint64_t)i + 1) * split <= keep;     /* every byte of it is kept */
        if ((uint64_t)st.st_size > split || (whole && (uint64_t)st.st_size != split))
            return cb_error_set(err, -EINVAL, "%s is %llu bytes, not a part of --split %llu: give the --split "
                                "the image was started with, or remove it and the map to start again", p0,
                                (unsigned long long)st.st_size, (unsigned long long)split);
    }
    snprintf(p0, sizeof(p0), "%s.partial", name);
    if (split ? lstat(p0, &st) == 0 : lstat(p0, &st) != 0)
        return cb_error_set(err, -EINVAL, "the unfinished image of %s was %s: give the same --split as when it was "
                            "started, or remove it and the map to start again", name,
                            split ? "not split" : "split into parts");
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->split = split;
    w->index = split ? (int)(keep / split) : 0;
    w->in_part = split ? keep % split : keep;
    if (split && w->index > 0 && w->in_part == 0) {
        w->index--;             /* the last part is full: the next write opens a new one */
        w->in_part = split;
    }
    w->total = keep;
    char p[4200];
    part_writer_path(w, w->index, 1, p, sizeof(p));
    w->fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (w->fd >= 0 && flock(w->fd, LOCK_EX | LOCK_NB) != 0) {
        close(w->fd);
        w->fd = -1;
        w->name[0] = '\0';
        return cb_error_set(err, -EBUSY, "%s is being written by another job now: refused", p);
    }
    if (w->fd < 0 || ftruncate(w->fd, (off_t)w->in_part) != 0 || lseek(w->fd, (off_t)w->in_part, SEEK_SET) < 0) {
        int e = errno;
        if (w->fd >= 0)
            close(w->fd);
        w->fd = -1;
        w->name[0] = '\0';     /* not ours to abort */
        return cb_error_set(err, -e, "cannot go on writing %s: %s", p, strerror(e));
    }
    if (split) {
        char base[4200];
        snprintf(base, sizeof(base), "%s.partial", name);
        part_files_remove(base, w->index);
    }
    return 0;
}

int part_writer_write(struct part_writer *w, const void *buf, size_t len, struct cb_error *err)
{
    const char *p = buf;
    while (len) {
        if (w->split && w->in_part == w->split) {
            int rc = next_part(w, err);
            if (rc)
                return rc;
        }
        size_t chunk = len;
        if (w->split && chunk > w->split - w->in_part)
            chunk = (size_t)(w->split - w->in_part);
        ssize_t r = write(w->fd, p, chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : ENOSPC;
            char path[4200];
            part_writer_path(w, w->index, 1, path, sizeof(path));
            return cb_error_set(err, -e, "cannot write %s at byte %llu: %s", path,
                                (unsigned long long)w->total, strerror(e));
        }
        p += r;
        len -= (size_t)r;
        w->in_part += (uint64_t)r;
        w->total += (uint64_t)r;
    }
    return 0;
}

int part_rename_new(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return -errno;
    /* Filesystems without the flag (FUSE ones): check, then rename. */
    struct stat st;
    if (lstat(to, &st) == 0)
        return -EEXIST;
    return rename(from, to) == 0 ? 0 : -errno;
}

int part_writer_commit(struct part_writer *w, struct cb_error *err)
{
    char from[4200], to[4200];
    if (w->fd >= 0) {
        int bad = fsync(w->fd) != 0;
        bad |= close(w->fd) != 0;
        w->fd = -1;
        if (bad) {
            part_writer_path(w, w->index, 1, from, sizeof(from));
            return cb_error_set(err, -errno, "cannot write %s: %s", from, strerror(errno));
        }
    }
    /* Last part first: while any part is still .partial, part 0 is too, and
     * it keeps the name taken from other jobs. */
    for (int i = w->index; i >= 0; i--) {
        part_writer_path(w, i, 1, from, sizeof(from));
        part_writer_path(w, i, 0, to, sizeof(to));
        int rc = part_rename_new(from, to);
        if (rc == -EEXIST)
            return cb_error_set(err, rc, "%s appeared while this image was written: it was left as it is, and the "
                                "new image was not renamed over it", to);
        if (rc)
            return cb_error_set(err, rc, "cannot rename %s to %s: %s", from, to, strerror(-rc));
    }
    return 0;
}

void part_writer_abort(struct part_writer *w)
{
    char p[4200];
    if (!w->name[0])
        return;             /* never opened */
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    /* Part 0 last, so the name stays taken until every part is gone. */
    for (int i = w->index; i >= 0; i--) {
        part_writer_path(w, i, 1, p, sizeof(p));
        unlink(p);
    }
}
