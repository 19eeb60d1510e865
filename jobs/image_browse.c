#include "jobs/image_browse.h"
#include "common/safe_file.h"
#include "jobs/image_mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUF (1u << 20)

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n > t && !strcmp(s + n - t, tail);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Room for one more element in *v (n used of *cap): 0 or -ENOMEM. */
static int room_for_one(void *v, size_t *cap, size_t n, size_t size)
{
    void **pv = v;
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 32;
    void *w = realloc(*pv, c * size);
    if (!w)
        return -ENOMEM;
    *pv = w;
    *cap = c;
    return 0;
}

static int entry_order(const void *a, const void *b)
{
    const struct browse_entry *x = a, *y = b;
    if ((x->kind == BROWSE_DIR) != (y->kind == BROWSE_DIR))
        return x->kind == BROWSE_DIR ? -1 : 1;
    return strcmp(x->name, y->name);
}

static enum browse_kind kind_of(mode_t m)
{
    return S_ISDIR(m) ? BROWSE_DIR : S_ISREG(m) ? BROWSE_FILE : S_ISLNK(m) ? BROWSE_LINK : BROWSE_OTHER;
}

/* Every entry of dir (but . and ..) that keep() takes, into the array *out
 * of esize-byte elements (n of them), sorted by order: keep fills the
 * element it is given and says 1 (kept) or 0. 0, or -errno with err. */
static int list_folder(const char *dir, void *out, size_t *n, size_t esize,
                       int (*keep)(int dfd, const char *name, void *elem), int (*order)(const void *, const void *),
                       struct cb_error *err)
{
    void **v = out;
    *v = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return cb_error_set(err, -errno, "cannot read the folder %s: %s", dir, strerror(errno));
    struct dirent *de;
    size_t cap = 0;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (room_for_one(out, &cap, *n, esize)) {
            rc = cb_error_set(err, -ENOMEM, "out of memory listing %s", dir);
            break;
        }
        *n += (size_t)keep(dirfd(d), de->d_name, (char *)*v + *n * esize);
    }
    closedir(d);
    if (*n)
        qsort(*v, *n, esize, order);
    return rc;
}

/* An image file, by the name it is opened under (FILE.zst for its parts FILE.zst.000...). */
static int keep_image(int dfd, const char *entry, void *elem)
{
    char *name = elem;
    if (snprintf(name, BROWSE_NAME_MAX, "%s", entry) >= BROWSE_NAME_MAX)
        return 0;
    if (ends_with(name, ".zst.000"))
        name[strlen(name) - 4] = '\0';
    else if (!ends_with(name, ".zst") && !ends_with(name, ".img"))
        return 0;
    struct stat st;
    return fstatat(dfd, entry, &st, 0) == 0 && S_ISREG(st.st_mode);
}

int browse_find_images(const char *dir, char (**out)[BROWSE_NAME_MAX], size_t *n, struct cb_error *err)
{
    return list_folder(dir, out, n, sizeof(**out), keep_image, by_name, err);
}

/* Every entry, listed: one that cannot be looked at is OTHER (the copy will
 * say why it cannot be read). */
static int keep_entry(int dfd, const char *name, void *elem)
{
    struct browse_entry *e = elem;
    struct stat st;
    snprintf(e->name, sizeof(e->name), "%s", name);
    bool seen = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    e->kind = seen ? kind_of(st.st_mode) : BROWSE_OTHER;
    e->size = seen ? (uint64_t)st.st_size : 0;
    return 1;
}

int browse_list(const char *dir, struct browse_entry **out, size_t *n, struct cb_error *err)
{
    return list_folder(dir, out, n, sizeof(**out), keep_entry, entry_order, err);
}

void browse_dest_folder(const char *store, const char *image, char *out, size_t len)
{
    const char *base = strrchr(image, '/');
    char name[BROWSE_NAME_MAX];
    snprintf(name, sizeof(name), "%s", base ? base + 1 : image);
    static const char *const tails[] = { ".zst.000", ".zst", ".img" };
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++)
        if (ends_with(name, tails[i])) {
            name[strlen(name) - strlen(tails[i])] = '\0';
            break;
        }
    snprintf(out, len, "%s/%s-files", store, name);
}

/* ---- the copy ---- */

/* One thing to copy, found by walking the picks before anything is copied:
 * the sizes listed are those the image gave then. */
struct item {
    char *src, *dst, *shown;    /* shown: "p2/docs/a.txt" */
    enum browse_kind kind;
    uint64_t size;
    mode_t mode;
    struct timespec times[2];
};

struct plan {
    struct item *v;
    size_t n, cap;
};

static void fail_item(struct browse_result *r, const char *shown, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_item(struct browse_result *r, const char *shown, const char *fmt, ...)
{
    void *v = realloc(r->failed, (r->nfailed + 1) * sizeof(r->failed[0]));
    if (!v)
        return;
    r->failed = v;
    char *line = r->failed[r->nfailed++];
    int n = snprintf(line, BROWSE_WHY_MAX, "%s: not copied: ", shown);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && n < BROWSE_WHY_MAX)
        vsnprintf(line + n, BROWSE_WHY_MAX - (size_t)n, fmt, ap);
    va_end(ap);
}

static char *join(const char *a, const char *b)
{
    char *s = NULL;
    if (asprintf(&s, "%s%s%s", a, *b && *a ? "/" : "", b) < 0)
        return NULL;
    return s;
}

static int plan_add(struct plan *p, const char *src, const char *dst, const char *shown, const struct stat *st)
{
    if (room_for_one(&p->v, &p->cap, p->n, sizeof(p->v[0])))
        return -ENOMEM;
    struct item *it = &p->v[p->n];
    memset(it, 0, sizeof(*it));
    it->src = strdup(src);
    it->dst = strdup(dst);
    it->shown = strdup(shown);
    if (!it->src || !it->dst || !it->shown) {
        free(it->src);
        free(it->dst);
        free(it->shown);
        return -ENOMEM;
    }
    it->kind = st ? kind_of(st->st_mode) : BROWSE_OTHER;
    it->size = st ? (uint64_t)st->st_size : 0;
    it->mode = st ? st->st_mode & 07777 : 0;
    if (st) {
        it->times[0] = st->st_atim;
        it->times[1] = st->st_mtim;
    }
    p->n++;
    return 0;
}

/* Folders before what they hold; a folder that cannot be read is one failed item. */
static int plan_walk(struct plan *p, const char *src, const char *dst, const char *shown, struct browse_result *r)
{
    struct stat st;
    if (lstat(src, &st) != 0) {
        fail_item(r, shown, "%s", strerror(errno));
        return 0;
    }
    int rc = plan_add(p, src, dst, shown, &st);
    if (rc || !S_ISDIR(st.st_mode))
        return rc;
    struct browse_entry *v;
    size_t n;
    struct cb_error err = { 0 };
    if (browse_list(src, &v, &n, &err) != 0) {
        fail_item(r, shown, "its contents cannot be read: %s", strerror(-err.code));
        return 0;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        char *s = join(src, v[i].name), *d = join(dst, v[i].name), *w = join(shown, v[i].name);
        rc = s && d && w ? plan_walk(p, s, d, w, r) : -ENOMEM;
        free(s);
        free(d);
        free(w);
    }
    free(v);
    return rc;
}

static void plan_free(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].src);
        free(p->v[i].dst);
        free(p->v[i].shown);
    }
    free(p->v);
}

/* A folder made, or one there already that is a real folder (never a link
 * someone planted in the store). */
static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0)
        return 0;
    int e = errno;
    struct stat st;
    if (e == EEXIST && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return e == EEXIST ? -ENOTDIR : -e;
}

static int make_dirs(const char *path)
{
    char buf[4200];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *s = buf + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            int rc = make_dir(buf);
            *s = '/';
            if (rc)
                return rc;
        }
    return make_dir(buf);
}

static const char *read_hint(int e)
{
    return e == EIO ? " (the image is damaged there)" : "";
}

/* Copy one plain file; its bytes copied, or -1 after fail_item. */
static int copy_file(const struct item *it, char *buf, struct browse_progress *p, struct browse_result *r)
{
    int in = open(it->src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        fail_item(r, it->shown, "cannot open it: %s", strerror(errno));
        return -1;
    }
    int out = safe_file_create(it->dst, O_WRONLY, 0600);
    if (out < 0) {
        close(in);
        if (out == -EEXIST)
            fail_item(r, it->shown, "%s is there already (nothing is overwritten)", it->dst);
        else
            fail_item(r, it->shown, "cannot create %s: %s", it->dst, strerror(-out));
        return -1;
    }
    uint64_t done = 0;
    bool ok = true;
    while (ok) {
        if (atomic_load(&p->cancel)) {
            r->cancelled = true;
            fail_item(r, it->shown, "the copy was stopped");
            ok = false;
            break;
        }
        ssize_t n = read(in, buf, COPY_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            fail_item(r, it->shown, "reading it failed at byte %llu of %llu: %s%s", (unsigned long long)done,
                      (unsigned long long)it->size, strerror(e), read_hint(e));
            ok = false;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(out, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                fail_item(r, it->shown, "writing %s failed: %s", it->dst, k < 0 ? strerror(errno) : "nothing written");
                ok = false;
                break;
            }
            w += k;
        }
        done += (uint64_t)n;
        atomic_fetch_add(&p->bytes_done, (uint64_t)n);
    }
    struct stat st;
    if (ok && (fdatasync(out) != 0 || fstat(out, &st) != 0)) {
        fail_item(r, it->shown, "%s could not be flushed to the store: %s", it->dst, strerror(errno));
        ok = false;
    }
    /* The check: bytes read and written, the copy's size and the size the image lists agree. */
    if (ok && (done != it->size || (uint64_t)st.st_size != it->size)) {
        fail_item(r, it->shown, "the image lists %llu bytes, %llu were read and the copy holds %llu",
                  (unsigned long long)it->size, (unsigned long long)done, (unsigned long long)st.st_size);
        ok = false;
    }
    if (ok) {
        fchmod(out, it->mode & 0777);
        futimens(out, it->times);
    }
    close(in);
    close(out);
    if (!ok) {
        unlink(it->dst);        /* no partial file that looks like the customer's */
        return -1;
    }
    return 0;
}

static void copy_item(const struct item *it, char *buf, struct browse_progress *p, struct browse_result *r)
{
    int rc;
    char target[4096];
    ssize_t n;
    switch (it->kind) {
    case BROWSE_DIR:
        if ((rc = make_dir(it->dst)) != 0)
            fail_item(r, it->shown, "cannot make the folder %s: %s", it->dst,
                      rc == -ENOTDIR ? "something else has that name" : strerror(-rc));
        return;
    case BROWSE_LINK:
        n = readlink(it->src, target, sizeof(target) - 1);
        if (n < 0) {
            fail_item(r, it->shown, "cannot read the link: %s", strerror(errno));
            return;
        }
        target[n] = '\0';
        if (symlink(target, it->dst) != 0) {
            fail_item(r, it->shown, "cannot make the link %s: %s", it->dst, strerror(errno));
            return;
        }
        r->files_copied++;
        return;
    case BROWSE_FILE:
        if (copy_file(it, buf, p, r) == 0) {
            r->files_copied++;
            r->bytes_copied += it->size;
        }
        return;
    case BROWSE_OTHER:
        fail_item(r, it->shown, "not a file, folder or link (a device, pipe or socket)");
        return;
    }
}

int browse_copy_run(const struct browse_pick *picks, size_t n, const char *dest, struct browse_progress *p,
                    struct browse_result *res, struct cb_error *err)
{
    memset(res, 0, sizeof(*res));
    int rc = make_dirs(dest);
    if (rc)
        return cb_error_set(err, rc, "cannot make the folder %s in the store: %s", dest,
                            rc == -ENOTDIR ? "something that is not a folder has its name" : strerror(-rc));
    struct plan plan = { 0 };
    for (size_t i = 0; i < n && !rc; i++) {
        char *into = join(dest, picks[i].into), *src = join(picks[i].root, picks[i].rel);
        char *dst = into ? join(into, picks[i].rel) : NULL, *shown = join(picks[i].into, picks[i].rel);
        rc = into && src && dst && shown ? make_dirs(into) : -ENOMEM;
        /* The folders between the partition and the pick, so the copy keeps its place. */
        char *slash = dst ? strrchr(dst, '/') : NULL;
        if (!rc && slash && slash > dst + strlen(into)) {
            *slash = '\0';
            rc = make_dirs(dst);
            *slash = '/';
        }
        if (rc && rc != -ENOMEM) {
            fail_item(res, shown ? shown : picks[i].rel, "cannot make its folder in %s: %s", dest, strerror(-rc));
            rc = 0;
        } else if (!rc) {
            rc = plan_walk(&plan, src, dst, shown, res);
        }
        free(into);
        free(src);
        free(dst);
        free(shown);
    }
    if (rc) {
        plan_free(&plan);
        browse_result_free(res);
        return cb_error_set(err, rc, "cannot plan the copy: %s", strerror(-rc));
    }
    uint64_t total = 0;
    for (size_t i = 0; i < plan.n; i++)
        if (plan.v[i].kind == BROWSE_FILE || plan.v[i].kind == BROWSE_LINK) {
            res->files_listed++;
            total += plan.v[i].kind == BROWSE_FILE ? plan.v[i].size : 0;
        }
    res->bytes_listed = total;
    atomic_store(&p->bytes_total, total);
    atomic_store(&p->files_total, res->files_listed);
    char *buf = malloc(COPY_BUF);
    if (!buf) {
        plan_free(&plan);
        browse_result_free(res);
        return cb_error_set(err, -ENOMEM, "out of memory for the copy");
    }
    for (size_t i = 0; i < plan.n && !res->cancelled; i++) {
        copy_item(&plan.v[i], buf, p, res);
        if (plan.v[i].kind != BROWSE_DIR)
            atomic_fetch_add(&p->files_done, 1);
    }
    /* Folders get their own times last: copying into them changed those. */
    for (size_t i = plan.n; i-- > 0;)
        if (plan.v[i].kind == BROWSE_DIR) {
            chmod(plan.v[i].dst, plan.v[i].mode & 0777);
            utimensat(AT_FDCWD, plan.v[i].dst, plan.v[i].times, AT_SYMLINK_NOFOLLOW);
        }
    free(buf);
    plan_free(&plan);
    return 0;
}

void browse_result_free(struct browse_result *r)
{
    free(r->failed);
    r->failed = NULL;
    r->nfailed = 0;
}

/* Work done in a thread of its own (a copy, an open): run fills rc and err,
 * done says when the owner may join. The first member of what it serves. */
struct worker {
    pthread_t thread;
    int (*run)(struct worker *w);
    int rc;
    struct cb_error err;
    _Atomic bool done;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->rc = w->run(w);
    atomic_store(&w->done, true);
    return NULL;
}

static int worker_start(struct worker *w, int (*run)(struct worker *), struct cb_error *err)
{
    w->run = run;
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    return rc ? cb_error_set(err, -rc, "cannot start a thread: %s", strerror(rc)) : 0;
}

/* Joined: its value, err filled when it failed. */
static int worker_join(struct worker *w, struct cb_error *err)
{
    pthread_join(w->thread, NULL);
    if (w->rc)
        *err = w->err;
    return w->rc;
}

struct browse_copy {
    struct worker w;                    /* first: the thread's entry */
    struct browse_pick *picks;
    size_t n;
    char dest[4200];
    struct browse_progress progress;
    struct browse_result result;        /* the thread's until done */
};

static int copy_work(struct worker *w)
{
    struct browse_copy *c = (struct browse_copy *)w;
    return browse_copy_run(c->picks, c->n, c->dest, &c->progress, &c->result, &w->err);
}

int browse_copy_start(const struct browse_pick *picks, size_t n, const char *dest, struct browse_copy **out,
                      struct cb_error *err)
{
    struct browse_copy *c = calloc(1, sizeof(*c));
    if (!c || !(c->picks = malloc((n ? n : 1) * sizeof(*picks)))) {
        free(c);
        return cb_error_set(err, -ENOMEM, "out of memory for the copy");
    }
    memcpy(c->picks, picks, n * sizeof(*picks));
    c->n = n;
    snprintf(c->dest, sizeof(c->dest), "%s", dest);
    int rc = worker_start(&c->w, copy_work, err);
    if (rc) {
        free(c->picks);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

bool browse_copy_done(const struct browse_copy *c)
{
    return atomic_load(&c->w.done);
}

struct browse_progress *browse_copy_progress(struct browse_copy *c)
{
    return &c->progress;
}

int browse_copy_finish(struct browse_copy *c, bool cancel, struct browse_result *res, struct cb_error *err)
{
    if (cancel)
        atomic_store(&c->progress.cancel, true);
    int rc = worker_join(&c->w, err);
    *res = c->result;
    free(c->picks);
    free(c);
    return rc;
}

struct browse_open {
    struct worker w;                    /* first: the thread's entry */
    char image[4400], dir[4200];
    struct image_mount m;               /* the thread's until done */
};

static int open_work(struct worker *w)
{
    struct browse_open *o = (struct browse_open *)w;
    return image_mount(o->image, o->dir, &o->m, &w->err);
}

int browse_open_start(const char *image, const char *dir, struct browse_open **out, struct cb_error *err)
{
    struct browse_open *o = calloc(1, sizeof(*o));
    if (!o)
        return cb_error_set(err, -ENOMEM, "out of memory opening %s", image);
    snprintf(o->image, sizeof(o->image), "%s", image);
    snprintf(o->dir, sizeof(o->dir), "%s", dir);
    int rc = worker_start(&o->w, open_work, err);
    if (rc) {
        free(o);
        return rc;
    }
    *out = o;
    return 0;
}

bool browse_open_done(const struct browse_open *o)
{
    return atomic_load(&o->w.done);
}

int browse_open_finish(struct browse_open *o, struct image_mount *m, struct cb_error *err)
{
    int rc = worker_join(&o->w, err);
    if (!rc)
        *m = o->m;
    free(o);
    return rc;
}
