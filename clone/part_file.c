#include "clone/part_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

ssize_t part_file_pread(struct part_file *pf, void *buf, size_t len, uint64_t off)
{
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
    w->fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0)
        return cb_error_set(err, -errno, "cannot create %s: %s", p, strerror(errno));
    w->in_part = 0;
    return 0;
}

int part_writer_open(struct part_writer *w, const char *name, uint64_t split, struct cb_error *err)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->split = split;
    w->fd = -1;
    return next_part(w, err);
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
    for (int i = 0; i <= w->index; i++) {
        part_writer_path(w, i, 1, from, sizeof(from));
        part_writer_path(w, i, 0, to, sizeof(to));
        if (rename(from, to) != 0)
            return cb_error_set(err, -errno, "cannot rename %s to %s: %s", from, to, strerror(errno));
    }
    return 0;
}

void part_writer_abort(struct part_writer *w)
{
    char p[4200];
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    for (int i = 0; i <= w->index; i++) {
        part_writer_path(w, i, 1, p, sizeof(p));
        unlink(p);
    }
}
