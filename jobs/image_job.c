#include "jobs/image_job.h"
#include "jobs/damage.h"
#include "clone/image_sink.h"
#include "clone/image_stream.h"
#include "clone/engine.h"
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

bool image_job_zst_name(const char *path)
{
    return ends_with(path, ".zst");
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

int image_job_prepare_dest(struct job *job, const struct job_request *req, bool src_is_block,
                           dev_t src_dev, const struct sysfs_ctx *ctx, struct cb_error *err)
{
    int it = job->image_target;
    job->raw = job->ops->makes_image && (req->raw || image_job_raw_name(req->targets[it]));
    if (job->raw && req->split)
        return cb_error_set(err, -EINVAL, "--split is for compressed images; a raw image is one sparse file");
    image_job_final_name(req->targets[it], job->raw, job->image_final, sizeof(job->image_final));
    snprintf(job->image_partial, sizeof(job->image_partial), "%s.partial", job->image_final);
    struct job_endpoint *ep = &job->targets[it];
    snprintf(ep->path, sizeof(ep->path), "%s", job->image_final);
    snprintf(ep->kind, sizeof(ep->kind), "%s", job->raw ? "raw image" : "image");
    snprintf(job->ctargets[it].dev.path, sizeof(job->ctargets[it].dev.path), "%s", job->image_final);
    char which[4200];
    if (image_exists(job->image_final, which, sizeof(which)) && !req->force)
        return cb_error_set(err, -EEXIST, "%s already exists: choose another name, or --force to replace it", which);
    /* FILE.partial with the map that made it: this job goes on with it. */
    bool resuming = !job->raw && req->map_path && access(req->map_path, F_OK) == 0;
    if (!resuming && image_in_progress(job->image_final, which, sizeof(which)))
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
            job_note(job, "%s free where the image goes, less than the source's size: it fits only if the "
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
static void describe_image(struct job *job, const struct img_meta *m, const char *path)
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
        job_note(job, "the image records %zu unreadable areas of the original drive (restored as %s)", m->nbad,
                       m->fill[0] ? m->fill : "zeros");
}

int image_job_open_source(struct job *job, const char *path, struct cb_error *err)
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

int image_job_open_stream(struct job *job, struct image_stream *stream, struct cb_error *err)
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

/* With --force: the old image goes only now, after the new one is verified.
 * Stale parts of an older, longer split would corrupt the concatenation. */
static void remove_old_image(const char *final)
{
    part_files_remove(final, -1);
}

/* Without --force, an image that appeared under the name while this one was
 * written (by hand, or a station that does not share this one's names) stays. */
static int check_name_still_free(const struct job *job, struct cb_error *err)
{
    char which[4200];
    if (job->force || !image_exists(job->image_final, which, sizeof(which)))
        return 0;
    return cb_error_set(err, -EEXIST, "%s appeared while this image was written: it was left as it is, and the new "
                        "image was not renamed over it", which);
}

/* The regions in one of states, neighbours joined. */
static int ranges_of_map(const struct block_map *map, const char *states, struct img_range **v, size_t *n)
{
    for (size_t i = 0; i < map->count; i++) {
        if (!strchr(states, map->r[i].state))
            continue;
        if (*n && (*v)[*n - 1].off + (*v)[*n - 1].len == map->r[i].pos)
            (*v)[*n - 1].len += map->r[i].size;
        else if (img_range_push(v, n, (struct img_range){ map->r[i].pos, map->r[i].size }) != 0)
            return -ENOMEM;
    }
    return 0;
}

int image_job_open_sink(struct job *job, struct cb_error *err)
{
    struct img_meta *meta = calloc(1, sizeof(*meta));
    if (!meta)
        return cb_error_set(err, -ENOMEM, "out of memory");
    job->image_meta = meta;
    *meta = (struct img_meta){ .format = IMG_FORMAT, .size = job->src.size, .sector = job->src.sector };
    snprintf(meta->tool_version, sizeof(meta->tool_version), "clonebay %s", CLONEBAY_VERSION);
    iso_now(meta->created, sizeof(meta->created));
    snprintf(meta->source_path, sizeof(meta->source_path), "%s", job->source.path);
    snprintf(meta->source_kind, sizeof(meta->source_kind), "%s", job->source.kind);
    snprintf(meta->source_model, sizeof(meta->source_model), "%s", job->source.model);
    snprintf(meta->source_serial, sizeof(meta->source_serial), "%s", job->source.serial);
    snprintf(meta->contents, sizeof(meta->contents), "%s", job->source.contents);
    meta->used_only = job->used_only;
    /* --mode used: the header records what is read, so a restore can fit the
     * partitions onto a drive of any size. Known-zero regions (unused inode
     * tables) are listed too: such a restore writes what it lists, and they
     * must reach its target as zeros, not be left as the drive had them. */
    if (job->used_only) {
        const struct block_map *d = &job->domain;
        if (ranges_of_map(d, "+z", &meta->used, &meta->nused))
            return cb_error_set(err, -ENOMEM, "out of memory");
        img_ranges_limit(meta->used, &meta->nused, IMG_MAX_USED);
        /* The image holds the whole disk, zeros where nothing was read, and
         * its recorded digests are of all of it (what any reader decodes):
         * the engine's stream is the domain with the rest as known zeros. */
        if (map_copy(&job->image_domain, d))
            return cb_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < d->count; i++)
            if (d->r[i].state != MAP_FINISHED && d->r[i].state != MAP_ZERO)
                map_mark(&job->image_domain, d->r[i].pos, d->r[i].size, MAP_ZERO);
        job->engine.domain = &job->image_domain;
    }
    struct image_sink_config c = {
        .name = job->image_final, .split = job->split, .level = job->level ? job->level : 3,
        .budget = IMG_JOB_MEMORY - IMG_JOB_RESERVE - (size_t)ENGINE_IMAGE_SLOTS * ENGINE_SLOT_SIZE,
        .meta = meta,
        .resume = job->resumed ? &job->map : NULL, .sums = job->map_path[0] != '\0',
    };
    int rc = image_sink_open(&job->sink, &c, err);
    if (!rc) {
        image_sink_attach(job->sink, &job->ctargets[job->image_target]);
        struct image_sink_stats st;
        image_sink_stats(job->sink, &st);
        /* What the map calls done but no file of the image holds is read again. */
        const struct img_range *lost;
        size_t nlost = 0;
        image_sink_lost(job->sink, &lost, &nlost);
        uint64_t relost = 0;
        pthread_mutex_lock(&job->map_mu);
        for (size_t i = 0; i < nlost; i++) {
            relost += lost[i].len;
            map_mark(&job->map, lost[i].off, lost[i].len, MAP_NONTRIED);
        }
        pthread_mutex_unlock(&job->map_mu);
        if (relost) {
            char a[32];
            units_format_bytes(relost, a, sizeof(a));
            job_note(job, "resumed: %s the map calls copied are in no file of the unfinished image any more "
                           "(cut with a torn or re-read frame before them): they are read again", a);
        }
        size_t n = 0;
        rc = image_sink_vouched(job->sink, &job->image_vouched, &n);
        job->engine.vouched = job->image_vouched;
        job->engine.nvouched = n;
        if (st.resumed_frames)
            job_note(job, "resumed: %llu frames an earlier run had written to %s.partial were decoded and "
                           "kept; %zu of them are checked against the sha256 each had when it was read, the rest "
                           "of what that run finished is read again from the source for the hashes",
                           (unsigned long long)st.resumed_frames, job->image_final, n);
        if (rc)
            cb_error_set(err, rc, "out of memory");
    }
    return rc;
}

int image_job_seal(struct job *job, struct cb_error *err)
{
    struct img_meta *m = job->image_meta;
    memcpy(m->digests, job->engine.digests, sizeof(m->digests));
    free(m->bad);           /* the header (and its used ranges) is written already */
    m->bad = NULL;
    m->nbad = 0;
    if (ranges_of_map(&job->map, "-", &m->bad, &m->nbad))
        return cb_error_set(err, -ENOMEM, "out of memory");
    if (job->fill[0])
        snprintf(m->fill, sizeof(m->fill), "%s", job->fill);
    m->complete = true;
    int rc = image_sink_finish(job->sink, m, err);
    struct image_sink_stats st;
    image_sink_stats(job->sink, &st);
    job->image_bytes = st.image_bytes;
    job->image_frames = st.frames;
    job->zero_frames = st.zero_frames;
    job->image_spilled = st.spilled_frames;
    job->image_resumed_frames = st.resumed_frames;
    job->targets[job->image_target].size = st.image_bytes;
    job->image_sealed = rc == 0;
    return rc;
}

static enum job_outcome done(struct job *job, enum job_outcome o, const char *msg)
{
    job->outcome = o;
    snprintf(job->outcome_msg, sizeof(job->outcome_msg), "%s", msg);
    job->ended = time(NULL);
    progress_set_phase(&job->progress, PHASE_FINISHED);
    progress_notify(&job->progress);
    return o;
}

static void finish_compressed(struct job *job)
{
    struct cb_error err = { 0 };
    const struct engine_target *t = &job->ctargets[job->image_target];
    /* Kept when it is whole and, if asked, verified, whatever the drives beside it did. */
    bool ok = job->image_sealed && !atomic_load(&t->failed) && (!job->verify || t->verified == VERIFY_EQUAL) &&
              job->outcome != OUTCOME_CANCELLED;
    if (!ok) {
        bool keep = job->map_path[0] && (job->outcome == OUTCOME_CANCELLED || job->outcome == OUTCOME_FAILED) &&
                    !atomic_load(&t->failed) && t->verified != VERIFY_DIFFERS;
        if (keep)
            job_note(job, "the unfinished image %s.partial was kept with the map %s: the same command "
                           "goes on from where this run stopped", job->image_final, job->map_path);
        else
            image_sink_abort(job->sink);
    } else {
        if (job->force)
            remove_old_image(job->image_final);
        int rc = check_name_still_free(job, &err);
        if (!rc)
            rc = image_sink_commit(job->sink, &err);
        if (rc) {
            image_sink_abort(job->sink);
            done(job, OUTCOME_FAILED, err.msg);
        }
    }
    image_sink_attach(NULL, &job->ctargets[job->image_target]);
    image_sink_free(job->sink);
    job->sink = NULL;
}

void image_job_finish(struct job *job)
{
    struct engine_target *t = &job->ctargets[0];
    bool ok = job->outcome == OUTCOME_VERIFIED || job->outcome == OUTCOME_COPIED ||
              (job->outcome == OUTCOME_BAD_SECTORS && !atomic_load(&t->failed));
    if (job->sink) {
        finish_compressed(job);
        return;
    }
    if (!job->raw)
        return;             /* refused or failed before its image was opened */
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
