#define FUSE_USE_VERSION 31
#include "clone/image_fuse.h"

#include <fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DIRS 128
#define LOG_MAX (64u << 10)

/* One per helper process; reached through fuse_get_context()->private_data. */
struct served {
    struct fcache *cache;
    char image[4096];
    char *log;                  /* NUL-ended, at most LOG_MAX bytes */
    size_t log_len;
    bool log_full;
    unsigned dirs[MAX_DIRS];    /* N of each pN made, 0 for a free entry */
};

static struct served *me(void)
{
    return fuse_get_context()->private_data;
}

static void log_line(struct served *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(struct served *s, const char *fmt, ...)
{
    if (s->log_full)
        return;
    char line[1024], stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    char buf[1100];
    snprintf(buf, sizeof(buf), "%s %s\n", stamp, line);
    size_t n = strlen(buf);
    /* A bounded log: a badly damaged image must not grow the helper without end. */
    if (s->log_len + n + 64 > LOG_MAX) {
        snprintf(buf, sizeof(buf), "%s the log is full: later messages are not kept\n", stamp);
        n = strlen(buf);
        s->log_full = true;
    }
    memcpy(s->log + s->log_len, buf, n + 1);
    s->log_len += n;
}

static void log_damage(void *arg, const char *msg)
{
    log_line(arg, "%s; reads of those disk bytes fail with EIO, the rest of the disk reads normally", msg);
}

static char *stats_text(struct served *s, size_t *len)
{
    struct fcache_stats st;
    fcache_get_stats(s->cache, &st);
    char *t = NULL;
    int n = asprintf(&t,
                     "image %s\ndisk_bytes %llu\nraw %d\nreads %llu\nframes_decoded %llu\nframe_hits %llu\n"
                     "damaged_frames %llu\nfailed_reads %llu\ncache_slots %d\npid %ld\n",
                     s->image, (unsigned long long)fcache_size(s->cache), fcache_is_raw(s->cache),
                     (unsigned long long)st.reads, (unsigned long long)st.decoded, (unsigned long long)st.hits,
                     (unsigned long long)st.damaged, (unsigned long long)st.failed_reads, FCACHE_SLOTS,
                     (long)getpid());
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return t;
}

/* "pN" with 1 <= N <= 999: the only folders that can be made. */
static unsigned dir_number(const char *path)
{
    if (path[0] != '/' || path[1] != 'p' || !path[2] || strlen(path) > 5)
        return 0;
    unsigned n = 0;
    for (const char *p = path + 2; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        n = n * 10 + (unsigned)(*p - '0');
    }
    return n >= 1 && n <= 999 && path[2] != '0' ? n : 0;
}

static int find_dir(struct served *s, unsigned n)
{
    for (int i = 0; i < MAX_DIRS; i++)
        if (n && s->dirs[i] == n)
            return i;
    return -1;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    struct served *s = me();
    memset(st, 0, sizeof(*st));
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_mtime = st->st_ctime = st->st_atime = time(NULL);
    if (!strcmp(path, "/")) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
    }
    st->st_nlink = 1;
    st->st_mode = S_IFREG | 0444;
    if (!strcmp(path, "/.disk")) {
        st->st_size = (off_t)fcache_size(s->cache);
        return 0;
    }
    if (!strcmp(path, "/.log")) {
        st->st_size = (off_t)s->log_len;
        return 0;
    }
    if (!strcmp(path, "/.stats")) {
        size_t len = 0;
        free(stats_text(s, &len));
        st->st_size = (off_t)len;
        return 0;
    }
    if (find_dir(s, dir_number(path)) >= 0) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
    }
    return -ENOENT;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags)
{
    (void)off; (void)fi; (void)flags;
    struct served *s = me();
    bool root = !strcmp(path, "/");
    if (!root && find_dir(s, dir_number(path)) < 0)
        return -ENOENT;
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    if (!root)
        return 0;
    fill(buf, ".disk", NULL, 0, 0);
    fill(buf, ".stats", NULL, 0, 0);
    fill(buf, ".log", NULL, 0, 0);
    for (int i = 0; i < MAX_DIRS; i++) {
        if (!s->dirs[i])
            continue;
        char name[16];
        snprintf(name, sizeof(name), "p%u", s->dirs[i]);
        fill(buf, name, NULL, 0, 0);
    }
    return 0;
}

static int op_mkdir(const char *path, mode_t mode)
{
    (void)mode;
    struct served *s = me();
    unsigned n = dir_number(path);
    if (!n)
        return -EROFS;
    if (find_dir(s, n) >= 0)
        return -EEXIST;
    int free_at = find_dir(s, 0);
    for (int i = 0; i < MAX_DIRS && free_at < 0; i++)
        if (!s->dirs[i])
            free_at = i;
    if (free_at < 0)
        return -ENOSPC;
    s->dirs[free_at] = n;
    return 0;
}

static int op_rmdir(const char *path)
{
    struct served *s = me();
    int i = find_dir(s, dir_number(path));
    if (i < 0)
        return -ENOENT;
    s->dirs[i] = 0;
    return 0;
}

/* A snapshot of a generated file, taken at open so a reader sees one state. */
struct snapshot {
    size_t len;
    char text[];
};

static int op_open(const char *path, struct fuse_file_info *fi)
{
    struct served *s = me();
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EROFS;
    fi->direct_io = 1;      /* every read reaches the cache: the loop device caches above us */
    fi->fh = 0;
    if (!strcmp(path, "/.disk"))
        return 0;
    size_t len = 0;
    char *text = NULL;
    if (!strcmp(path, "/.stats"))
        text = stats_text(s, &len);
    else if (!strcmp(path, "/.log"))
        text = strndup(s->log, len = s->log_len);
    else
        return -ENOENT;
    struct snapshot *snap = text ? malloc(sizeof(*snap) + len + 1) : NULL;
    if (!snap) {
        free(text);
        return -ENOMEM;
    }
    snap->len = len;
    memcpy(snap->text, text, len + 1);
    free(text);
    fi->fh = (uint64_t)(uintptr_t)snap;
    return 0;
}

static int op_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    if (off < 0)
        return -EINVAL;
    if (fi->fh) {
        const struct snapshot *snap = (const struct snapshot *)(uintptr_t)fi->fh;
        if ((uint64_t)off >= snap->len)
            return 0;
        size_t n = snap->len - (size_t)off < len ? snap->len - (size_t)off : len;
        memcpy(buf, snap->text + off, n);
        return (int)n;
    }
    ssize_t r = fcache_read(me()->cache, buf, len, (uint64_t)off);
    return (int)r;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    free((void *)(uintptr_t)fi->fh);
    return 0;
}

/* Only partition folders may be made: anything else is a read-only disk. */
static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)path; (void)mode; (void)fi;
    return -EROFS;
}

static int op_unlink(const char *path)
{
    (void)path;
    return -EROFS;
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
    (void)from; (void)to; (void)flags;
    return -EROFS;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    (void)path; (void)size; (void)fi;
    return -EROFS;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->direct_io = 1;
    cfg->use_ino = 0;
    return me();
}

static const struct fuse_operations ops = {
    .init = op_init, .getattr = op_getattr, .readdir = op_readdir, .mkdir = op_mkdir, .rmdir = op_rmdir,
    .open = op_open, .read = op_read, .release = op_release, .create = op_create, .unlink = op_unlink,
    .truncate = op_truncate, .rename = op_rename,
};

static void tell(int fd, const char *msg)
{
    size_t n = strlen(msg);
    while (n) {
        ssize_t w = write(fd, msg, n);
        if (w <= 0 && errno != EINTR)
            break;
        if (w > 0) {
            msg += w;
            n -= (size_t)w;
        }
    }
}

int image_fuse_serve(struct fcache *c, const char *image_path, const char *dir, int ready_fd)
{
    static struct served s;         /* lives as long as the helper process */
    s.cache = c;
    snprintf(s.image, sizeof(s.image), "%s", image_path);
    if (!(s.log = calloc(1, LOG_MAX))) {
        tell(ready_fd, "out of memory");
        return -ENOMEM;
    }
    fcache_set_log(c, log_damage, &s);
    /* allow_other: the technician's own user may browse what root mounted. */
    char *argv[] = { "clonebay-mount", "-o", "allow_other,default_permissions,fsname=clonebay,subtype=clonebay",
                     NULL };
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    struct fuse *f = fuse_new(&args, &ops, sizeof(ops), &s);
    if (!f) {
        tell(ready_fd, "libfuse could not start (is /dev/fuse there?)");
        return -EIO;
    }
    if (fuse_mount(f, dir) != 0) {
        fuse_destroy(f);
        char msg[4200];
        snprintf(msg, sizeof(msg), "FUSE could not mount on %s (is the fuse module loaded, /dev/fuse there?)", dir);
        tell(ready_fd, msg);
        return -EIO;
    }
    struct fuse_session *se = fuse_get_session(f);
    fuse_set_signal_handlers(se);
    log_line(&s, "serving %s: %llu bytes of disk%s, %d frames kept decoded at most", image_path,
             (unsigned long long)fcache_size(c), fcache_is_raw(c) ? " (raw image)" : "", FCACHE_SLOTS);
    tell(ready_fd, "R");
    close(ready_fd);
    int rc = fuse_loop(f);
    fuse_remove_signal_handlers(se);
    fuse_unmount(f);
    fuse_destroy(f);
    return rc ? -EIO : 0;
}
