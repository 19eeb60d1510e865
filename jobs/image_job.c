#include "jobs/image_job.h"
#include "jobs/damage.h"
#include "clone/image_stream.h"
#include "clone/image_write.h"
#include "common/safe_file.h"
#include "common/units.h"
#include "devices/dev_relation.h"

#include "common/clock.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

bool image_job_raw_name(const char *path)
{
    return ends_with(path, ".img") || ends_with(path, ".iso");
}

bool image_job_iso_name(const char *path)
{
    return ends_with(path, ".iso") || ends_with(path, ".iso.zst");
}

void image_job_final_name(const char *given, bool raw, char *out, size_t len)
{
    if (ends_with(given, ".zst") || image_job_raw_name(given))
        snprintf(out, len, "%s", given);
    else
        snprintf(out, len, "%s%s", given, raw ? ".img" : ".zst");
}

struct first_part {
    int index;              /* -1: none yet */
    char path[4200];
};

/* The lowest-numbered part, for a message that names the image by its start. */
static int keep_first_part(const char *path, int index, void *arg)
{
    struct first_part *f = arg;
    if (f->index < 0 || index < f->index) {
        f->index = index;
        snprintf(f->path, sizeof(f->path), "%s", path);
    }
    return 0;
}

/* An image of this name already there: FILE, or any FILE.NNN part (even
 * without FILE.000: a stray later part would join a new split image). */
static bool image_exists(const char *final, char *which, size_t len)
{
    struct stat st;
    if (lstat(final, &st) == 0) {
        snprintf(which, len, "%s", final);
        return true;
    }
    struct first_part f = { .index = -1 };
    part_names_each(final, keep_first_part, &f);
    if (f.index < 0)
        return false;
    snprintf(which, len, "%s", f.path);
    return true;
}

/* Another job writing this image holds FILE.partial or FILE.partial.000
 * (whether it splits or not, it is the same image). */
static bool image_in_progress(const char *final, char *which, size_t len)
{
    static const char *const forms[] = { "%s.partial", "%s.partial.000" };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct stat st;
        snprintf(which, len, forms[i], final);
        if (lstat(which, &st) == 0)
            return true;
    }
    return false;
}

int image_job_prepare_dest(struct clone_job *job, const struct clone_request *req, bool src_is_block,
                           dev_t src_dev, const struct sysfs_ctx *ctx, struct cb_error *err)
{
    job->raw = req->raw || image_job_raw_name(req->targets[0]);
    if (job->raw && req->split)
        return cb_error_set(err, -EINVAL, "--split is for compressed images; a raw image is one sparse file");
    image_job_final_name(req->targets[0], job->raw, job->image_final, sizeof(job->image_final));
    snprintf(job->image_partial, sizeof(job->image_partial), "%s.partial", job->image_final);
    struct job_endpoint *ep = &job->targets[0];
    snprintf(ep->path, sizeof(ep->path), "%s", job->image_final);
    snprintf(ep->kind, sizeof(ep->kind), "%s", job->raw ? "raw image" : "image");
    snprintf(job->ctargets[0].dev.path, sizeof(job->ctargets[0].dev.path), "%s", job->image_final);
    char which[4200];
    if (image_exists(job->image_final, which, sizeof(which)) && !req->force)
        return cb_error_set(err, -EEXIST, "%s already exists: choose another name, or --force to replace it", which);
    if (image_in_progress(job->image_final, which, sizeof(which)))
        return part_name_refusal(which, -EEXIST, err);

    char dirbuf[4096];
    snprintf(dirbuf, sizeof(dirbuf), "%s", job->image_final);
    const char *dir = dirname(dirbuf);
    struct stat dst;
    if (stat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode))
        return cb_error_set(err, -ENOENT, "cannot write %s: folder %s does not exist", job->image_final, dir);
    if (access(dir, W_OK) != 0)
        return cb_error_set(err, -EACCES, "cannot write %s: folder %s is not writable", job->image_final, dir);
    /* FUSE (ntfs-3g) and btrfs give their files a device number of their own:
     * the drive under them is the mount's source. */
    dev_t backing = 0;
    if (src_is_block && (dev_file_at_risk(ctx, src_dev, dst.st_dev, 0) ||
                         (dev_mount_source_of(ctx, dir, &backing) == 0 && dev_file_at_risk(ctx, src_dev, backing, 0))))
        return cb_error_set(err, -EINVAL, "%s would be written onto the source %s itself", job->image_final,
                            job->source.path);

    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        char a[32], need[32];
        units_format_bytes(avail, a, sizeof(a));
        units_format_bytes(job->source.size, need, sizeof(need));
        if (job->raw && avail < job->source.size)
            return cb_error_set(err, -ENOSPC, "%s: a raw image of %s may need up to %s but %s has %s free",
                                job->image_final, job->source.path, need, dir, a);
        if (!job->raw && avail < job->source.size)
            clone_job_note(job, "%s free where the image goes, less than the source's size: it fits only if the "
                           "drive compresses well", a);
    }
    if (!job->raw)
        return 0;
    /* A raw image is a clone into a new sparse file: holes where the source is
     * zero. Created new: it also takes the name from any other job. */
    int fd = safe_file_create(job->image_partial, O_WRONLY, 0644);
    if (fd < 0)
        return part_name_refusal(job->image_partial, fd, err);
    struct stat made;
    int rc = ftruncate(fd, (off_t)job->source.size) == 0 && fstat(fd, &made) == 0 ? 0 : -errno;
    if (rc) {
        close(fd);
        unlink(job->image_partial);
        return cb_error_set(err, rc, "cannot size %s: %s", job->image_partial, strerror(-rc));
    }
    /* The engine opens by name (for direct I/O): it must get the file made here. */
    rc = io_open_target(job->image_partial, false, &job->ctargets[0].dev, err);
    struct stat got;
    if (!rc && (fstat(job->ctargets[0].dev.fd, &got) != 0 || got.st_dev != made.st_dev ||
                got.st_ino != made.st_ino)) {
        io_close(&job->ctargets[0].dev);
        rc = cb_error_set(err, -EEXIST, "%s was replaced by something else while it was being prepared: refused, "
                          "nothing was written", job->image_partial);
    }
    close(fd);
    if (rc) {
        unlink(job->image_partial);
        return rc;
    }
    job->ctargets[0].sparse = true;
    return 0;
}

/* The source endpoint from an image's header, path naming where it is read. */
static void describe_image(struct clone_job *job, const struct img_meta *m, const char *path)
{
    struct job_endpoint *ep = &job->source;
    snprintf(ep->kind, sizeof(ep->kind), "image");
    snprintf(ep->model, sizeof(ep->model), "image of %s%s%s", m->source_model[0] ? m->source_model : m->source_path,
             m->created[0] ? ", made " : "", m->created);
    snprintf(ep->serial, sizeof(ep->serial), "%s", m->source_serial);
    snprintf(ep->contents, sizeof(ep->contents), "%s", m->contents);
    ep->size = m->size;
    snprintf(job->src.path, sizeof(job->src.path), "%s", path);
    job->src.size = m->size;
    job->src.sector = m->sector;
    job->src.fd = -1;
    if (m->nbad)
        clone_job_note(job, "the image records %zu unreadable areas of the original drive (restored as %s)", m->nbad,
                       m->fill[0] ? m->fill : "zeros");
}

int image_job_open_source(struct clone_job *job, const char *path, struct cb_error *err)
{
    job->image = calloc(1, sizeof(*job->image));
    if (!job->image)
        return cb_error_set(err, -ENOMEM, "out of memory");
    int rc = image_open(job->image, path, err);
    if (rc) {
        free(job->image);
        job->image = NULL;
        return rc;
    }
    describe_image(job, &job->image->meta, path);
    return 0;
}

int image_job_open_stream(struct clone_job *job, struct image_stream *stream, struct cb_error *err)
{
    (void)err;      /* the header is read: nothing here can fail */
    job->stream = stream;
    describe_image(job, &stream->meta, stream->name);
    return 0;
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Read the finished image back from the disk it was written to: every frame
 * decoded (zstd checks each frame's checksum) and hashed again. */
static int verify_image(struct clone_job *job, struct image_write_job *w, struct cb_error *err)
{
    struct copy_target *t = &job->ctargets[0];
    enum hash_alg alg = job->engine.verify_alg;
    char name[4200];
    snprintf(name, sizeof(name), "%s.partial", job->image_final);
    /* The image was just written: drop it from the page cache so we read the disk. */
    for (int i = 0; i <= w->out.index; i++) {
        char p[4300];
        part_writer_path(&w->out, i, 1, p, sizeof(p));
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    struct image img;
    int rc = image_open(&img, name, err);
    if (rc) {
        t->verified = -2;
        snprintf(t->verify_msg, sizeof(t->verify_msg), "%s", err->msg);
        return rc;
    }
    /* The same check as `clonebay verify`: every frame decoded, the digests recomputed. */
    struct image_check r;
    if (image_check_all(&img, &job->progress, &r) != 0) {
        rc = cb_error_set(err, -ENOMEM, "out of memory");
        t->verified = -2;
        snprintf(t->verify_msg, sizeof(t->verify_msg), "%s", err->msg);
    } else if (r.cancelled) {
        t->verified = -3;
        rc = cb_error_set(err, -ECANCELED, "cancelled");
    } else if (r.damaged) {
        t->verified = -2;
        snprintf(t->verify_msg, sizeof(t->verify_msg), "%s", r.msgs[0]);
        rc = cb_error_set(err, -EIO, "%s", r.msgs[0]);
    } else {
        snprintf(t->verify_hex, sizeof(t->verify_hex), "%s", r.digests[alg]);
        bool same = !strcmp(t->verify_hex, job->engine.digests[alg]) &&
                    !strcmp(img.meta.digests[alg], job->engine.digests[alg]);
        t->verified = same ? 1 : -1;
        if (!same) {
            snprintf(t->verify_msg, sizeof(t->verify_msg), "the image reads back as %s %s, not %s",
                     hash_name(alg), t->verify_hex, job->engine.digests[alg]);
            rc = cb_error_set(err, -EIO, "%s", t->verify_msg);
        }
    }
    image_close(&img);
    return rc;
}

static int unlink_part(const char *path, int index, void *arg)
{
    (void)index;
    (void)arg;
    unlink(path);
    return 0;
}

/* With --force: the old image goes only now, after the new one is verified.
 * Stale parts of an older, longer split would corrupt the concatenation. */
static void remove_old_image(const char *final)
{
    unlink(final);
    part_names_each(final, unlink_part, NULL);
}

/* Without --force, an image that appeared under the name while this one was
 * written (by hand, or a station that does not share this one's names) stays. */
static int check_name_still_free(const struct clone_job *job, struct cb_error *err)
{
    char which[4200];
    if (job->force || !image_exists(job->image_final, which, sizeof(which)))
        return 0;
    return cb_error_set(err, -EEXIST, "%s appeared while this image was written: it was left as it is, and the new "
                        "image was not renamed over it", which);
}

static enum job_outcome done(struct clone_job *job, enum job_outcome o, const char *msg)
{
    job->outcome = o;
    snprintf(job->outcome_msg, sizeof(job->outcome_msg), "%s", msg);
    job->ended = time(NULL);
    progress_set_phase(&job->progress, PHASE_FINISHED);
    progress_notify(&job->progress);
    return o;
}

enum job_outcome image_job_run(struct clone_job *job)
{
    struct img_meta meta = { .format = IMG_FORMAT, .size = job->src.size, .sector = job->src.sector };
    snprintf(meta.tool_version, sizeof(meta.tool_version), "clonebay %s", CLONEBAY_VERSION);
    iso_now(meta.created, sizeof(meta.created));
    snprintf(meta.source_path, sizeof(meta.source_path), "%s", job->source.path);
    snprintf(meta.source_kind, sizeof(meta.source_kind), "%s", job->source.kind);
    snprintf(meta.source_model, sizeof(meta.source_model), "%s", job->source.model);
    snprintf(meta.source_serial, sizeof(meta.source_serial), "%s", job->source.serial);
    snprintf(meta.contents, sizeof(meta.contents), "%s", job->source.contents);
    meta.used_only = job->used_only;
    struct image_write_job w = {
        .src = &job->src, .name = job->image_final, .split = job->split,
        .level = job->level ? job->level : 3, .hash_mask = job->engine.hash_mask, .retries = job->retries,
        .fill = job->fill[0] ? job->fill : NULL, .meta = &meta, .map = &job->map, .map_mu = &job->map_mu,
        .domain = job->used_only ? &job->domain : NULL, .progress = &job->progress,
    };
    struct cb_error err = { 0 };
    double t0 = cb_seconds();
    int rc = image_write_run(&w, &err);
    job->copy_seconds = cb_seconds() - t0;
    job->image_bytes = w.image_bytes;
    job->image_frames = w.frames;
    job->zero_frames = w.zero_frames;
    job->targets[0].size = w.image_bytes;
    memcpy(job->engine.digests, meta.digests, sizeof(meta.digests));
    struct copy_target *t = &job->ctargets[0];
    if (!rc && !w.cancelled && job->verify) {
        t0 = cb_seconds();
        rc = verify_image(job, &w, &err);
        job->verify_seconds = cb_seconds() - t0;
    }
    if (job->map_path[0])
        map_save(&job->map, job->map_path, NULL, NULL);
    img_meta_free(&meta);
    if (w.cancelled || atomic_load(&job->progress.cancel)) {
        part_writer_abort(&w.out);
        return done(job, OUTCOME_CANCELLED, "cancelled by the operator; the unfinished image was removed");
    }
    if (rc) {
        if (!t->verified) {
            atomic_store(&t->failed, 1);
            t->error = rc;
            t->error_off = w.out.total;
        }
        part_writer_abort(&w.out);
        char msg[700];
        snprintf(msg, sizeof(msg), "%s; the unfinished image was removed", err.msg);
        return done(job, t->verified == -1 ? OUTCOME_MISMATCH : OUTCOME_FAILED, msg);
    }
    if (job->force)
        remove_old_image(job->image_final);
    rc = check_name_still_free(job, &err);
    if (!rc)
        rc = part_writer_commit(&w.out, &err);
    if (rc) {
        part_writer_abort(&w.out);
        return done(job, OUTCOME_FAILED, err.msg);
    }
    job->outcome = map_bytes(&job->map, MAP_BAD) ? OUTCOME_BAD_SECTORS
                   : job->verify ? OUTCOME_VERIFIED : OUTCOME_COPIED;
    job_find_damaged(job);      /* in the image as written, before the UI hears the job is over */
    return done(job, job->outcome, "");
}

void image_job_finish_raw(struct clone_job *job)
{
    struct copy_target *t = &job->ctargets[0];
    bool ok = job->outcome == OUTCOME_VERIFIED || job->outcome == OUTCOME_COPIED ||
              (job->outcome == OUTCOME_BAD_SECTORS && !atomic_load(&t->failed));
    io_close(&t->dev);
    t->dev.fd = -1;
    if (!ok) {
        unlink(job->image_partial);
        return;
    }
    if (job->force)
        remove_old_image(job->image_final);
    struct cb_error err = { 0 };
    int rc = check_name_still_free(job, &err);
    if (!rc) {
        rc = job->force ? (rename(job->image_partial, job->image_final) == 0 ? 0 : -errno)
                        : part_rename_new(job->image_partial, job->image_final);
        if (rc)
            cb_error_set(&err, rc, "cannot rename %s to %s: %s", job->image_partial, job->image_final,
                         rc == -EEXIST ? "it appeared while this image was written, and was left as it is"
                                       : strerror(-rc));
    }
    if (rc) {
        unlink(job->image_partial);
        done(job, OUTCOME_FAILED, err.msg);
    }
}
