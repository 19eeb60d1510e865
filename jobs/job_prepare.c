#include "jobs/job_prepare.h"
#include "clone/fs/fs.h"
#include "clone/http_range.h"
#include "clone/iso9660.h"
#include "clone/udf.h"
#include "jobs/image_job.h"
#include "jobs/job_health.h"
#include "jobs/job_kinds.h"
#include "jobs/resize_job.h"
#include "common/units.h"
#include "devices/dev_relation.h"
#include "devices/dev_safety.h"
#include "devices/dev_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Identity of a drive into ep (ep->path is already set). */
static void describe_drive(const struct dev_drive *d, struct job_endpoint *ep)
{
    snprintf(ep->kind, sizeof(ep->kind), "%s", dev_kind_name(d->kind));
    if (d->kind == DEV_KIND_LOOP)
        snprintf(ep->model, sizeof(ep->model), "loop over %s", d->backing_file);
    else
        snprintf(ep->model, sizeof(ep->model), "%s%s%s", d->vendor, d->vendor[0] ? " " : "", d->model);
    snprintf(ep->serial, sizeof(ep->serial), "%s", d->serial);
    job_drive_contents(d, ep->contents, sizeof(ep->contents));
    job_health_init(ep, d);
}
/* "/dev/sdc (SanDisk Ultra, 14.3 GiB)" for messages. */
static const char *who(const struct job_endpoint *ep, char *buf, size_t len)
{
    char sz[32];
    units_format_bytes(ep->size, sz, sizeof(sz));
    if (ep->model[0])
        snprintf(buf, len, "%s (%s, %s)", ep->path, ep->model, sz);
    else
        snprintf(buf, len, "%s (%s)", ep->path, sz);
    return buf;
}
struct node {
    bool exists, is_block;
    dev_t rdev, st_dev;
    ino_t ino;
};
static int stat_node(const char *path, struct node *n)
{
    struct stat st;
    memset(n, 0, sizeof(*n));
    if (stat(path, &st) != 0)
        return -errno;
    n->exists = true;
    n->is_block = S_ISBLK(st.st_mode);
    n->rdev = st.st_rdev;
    n->st_dev = st.st_dev;
    n->ino = st.st_ino;
    return (n->is_block || S_ISREG(st.st_mode)) ? 0 : -EINVAL;
}
static bool same_node(const struct node *a, const struct node *b)
{
    if (a->is_block != b->is_block)
        return false;
    return a->is_block ? a->rdev == b->rdev : (a->st_dev == b->st_dev && a->ino == b->ino);
}
/* The drive (from a scan) a block device belongs to; *part set when it is a partition. */
static struct dev_drive *drive_of(struct dev_list *devs, const struct sysfs_ctx *ctx, dev_t rdev, bool *part)
{
    dev_t disk = dev_whole_disk(ctx, rdev);
    *part = disk != rdev;
    for (size_t i = 0; i < devs->count; i++)
        if (makedev(devs->drives[i].major, devs->drives[i].minor) == disk)
            return &devs->drives[i];
    return NULL;
}
static int check_target(struct job *job, size_t i, const struct node *tn, const struct node *sn,
                        struct dev_list *devs, const struct sysfs_ctx *ctx, struct cb_error *err)
{
    struct job_endpoint *ep = &job->targets[i];
    const char *path = ep->path;
    if (same_node(tn, sn))
        return cb_error_set(err, -EINVAL, "target %s is the source itself", path);
    if (!tn->is_block) {
        snprintf(ep->kind, sizeof(ep->kind), "file");
        /* A file target on the source device would be written while we read it. */
        if (sn->is_block && dev_file_at_risk(ctx, sn->rdev, tn->st_dev, tn->ino))
            return cb_error_set(err, -EINVAL, "target file %s lives on the source %s", path, job->source.path);
        return 0;
    }
    bool part = false;      /* a partition is judged by its drive: conservative */
    struct dev_drive *d = drive_of(devs, ctx, tn->rdev, &part);
    if (!d)
        return cb_error_set(err, -EINVAL, "target %s is not a drive or partition clonebay lists "
                            "(see 'clonebay list')", path);
    describe_drive(d, ep);
    dev_ident_of(d, &ep->ident);
    ep->has_ident = true;
    if (d->system)
        return cb_error_set(err, -EPERM, "target %s holds the running system (%s): refusing to write it",
                            path, d->system_why);
    if (d->mounted)
        return cb_error_set(err, -EBUSY, "target %s is in use: %s; unmount it first", path, d->mounted_why);
    if (d->readonly)
        return cb_error_set(err, -EROFS, "target %s is read-only", path);
    if (d->busy)
        return cb_error_set(err, -EBUSY, "target %s is busy: %s", path,
                            d->busy_why[0] ? d->busy_why : "in another job");
    if (sn->is_block && dev_overlap(ctx, tn->rdev, sn->rdev))
        return cb_error_set(err, -EINVAL, "target %s shares sectors with the source %s (a partition of it, "
                            "the disk holding it, or stacked on it)", path, job->source.path);
    if (!sn->is_block && dev_file_at_risk(ctx, tn->rdev, sn->st_dev, sn->ino))
        return cb_error_set(err, -EINVAL, "the source file %s lives on target %s", job->source.path, path);
    return 0;
}
static int open_everything(struct job *job, const struct job_request *req, struct cb_error *err)
{
    int rc = job->ops->reads_image ? 0 : io_open_source(req->source, &job->src, err);
    if (rc)
        return rc;
    job->source.size = job->src.size;
    for (size_t i = 0; i < job->ntargets; i++) {
        if ((int)i == job->image_target)
            continue;
        rc = req->dry_run ? io_open_verify(req->targets[i], &job->ctargets[i].dev, err)
                          : io_open_target(req->targets[i], true, &job->ctargets[i].dev, err);
        if (rc)
            return rc;
        struct io_dev *t = &job->ctargets[i].dev;
        job->targets[i].size = t->size;
        if (t->is_block && (job->src.is_block || job->image || job->stream) && t->sector != job->src.sector)
            return cb_error_set(err, -EINVAL, "target %s has %u-byte sectors but source %s has %u-byte "
                                "sectors: the source's partition table (and any FAT or NTFS boot sector) "
                                "counts in %u-byte sectors, so on the target they would point to the wrong "
                                "places; copy onto a drive with %u-byte sectors", t->path, t->sector,
                                job->src.path, job->src.sector, job->src.sector, job->src.sector);
    }
    if (!job->src.direct && !job->image && !job->stream)
        job_note(job, "source %s does not allow direct I/O: read through the page cache", job->src.path);
    return 0;
}
/* Partitions --mode used copies whole without making the job raw: nothing
 * in them says which blocks are in use, and nothing is lost by copying them
 * whole (Windows' reserved partition, encrypted volumes). NULL for others. */
static const char *opaque_partition(const struct dev_partition *p)
{
    if (layout_msr_type(p->type))
        return "Microsoft reserved";
    /* Windows' recovery tools find their files there by place: kept byte for byte. */
    if (!strcasecmp(p->type, "de94bba4-06d1-4d40-a16a-bfd50179d6ac"))
        return "Windows recovery";
    return fs_encrypted(p->fstype);
}
/* --mode used: the domain is the whole disk less the blocks each understood
 * filesystem does not use. Partition tables, gaps and anything not understood
 * are copied whole. */
static int build_domain(struct job *job, const struct dev_drive *d, struct cb_error *err)
{
    if (map_init(&job->domain, job->src.size, MAP_FINISHED))
        return cb_error_set(err, -ENOMEM, "out of memory");
    struct dev_partition whole = { .number = 0, .start = 0, .size = job->src.size };
    snprintf(whole.fstype, sizeof(whole.fstype), "%s", d->fstype);
    const struct dev_partition *parts = d->npart ? d->parts : &whole;
    size_t n = d->npart ? d->npart : (d->fstype[0] ? 1 : 0);
    char skipped[256] = "";
    for (size_t i = 0; i < n; i++) {
        const struct dev_partition *p = &parts[i];
        if (layout_boot_type(p->type)) {
            job_note(job, "partition #%d is a boot partition (EFI system or BIOS boot): copied whole", p->number);
            continue;
        }
        const char *opaque = opaque_partition(p);
        if (opaque) {
            job_note(job, "partition #%d (%s) copied whole: nothing in it says which blocks are in use, "
                           "or it must stay byte for byte", p->number, opaque);
            continue;
        }
        if (!fs_used_understood(p->fstype)) {
            size_t k = strlen(skipped);
            snprintf(skipped + k, sizeof(skipped) - k, "%s#%d %s", k ? ", " : "", p->number,
                     p->fstype[0] ? p->fstype : "(no filesystem)");
            continue;
        }
        char why[300];
        if (job_source_mounted_rw(job, p->start, p->size, why, sizeof(why))) {
            job_note(job, "partition #%d (%s) copied whole: %s", p->number, p->fstype, why);
            continue;
        }
        map_mark(&job->domain, p->start, p->size, MAP_NONTRIED);
        int r = fs_used_mark(job->src.path, p->start, p->size, p->fstype, &job->domain, why, sizeof(why));
        if (r <= 0) {
            map_mark(&job->domain, p->start, p->size, MAP_FINISHED);
            job_note(job, "partition #%d (%s) copied whole: %s", p->number, p->fstype, why);
        }
    }
    if (skipped[0])
        job_note(job, "copied whole, not understood by --mode used: %s", skipped);
    char a[32], b[32], z[32];
    units_format_bytes(map_bytes(&job->domain, MAP_FINISHED), a, sizeof(a));
    units_format_bytes(job->src.size, b, sizeof(b));
    job_note(job, "--mode used: %s of the %s source are in use and copied; free space is not read (left as "
             "it was on drives, zeros in images)", a, b);
    if (map_bytes(&job->domain, MAP_ZERO)) {
        units_format_bytes(map_bytes(&job->domain, MAP_ZERO), z, sizeof(z));
        job_note(job, "--mode used: %s more hold nothing the filesystems ever used (ext inode tables past "
                       "each group's last used inode): not read, written as zeros (zeros in images), and covered by "
                       "the hashes and the verification as zeros; ext journals are copied whole (their logs hold "
                       "the last transactions)", z);
    }
    job->used_only = true;
    return 0;
}
/* --mode's default: used when clonebay understands every partition of the
 * source drive (boot partitions are copied whole in either mode), so free
 * space is neither read nor written; raw, saying why, otherwise. */
static bool used_by_default(struct job *job, const struct job_request *req, const struct dev_drive *d)
{
    if (job->ops->reads_image || req->optical || !d || d->is_optical)
        return false;
    char why[160] = "";
    if (!d->npart && !d->fstype[0])
        snprintf(why, sizeof(why), "it holds no partition table and no filesystem clonebay knows");
    else if (!d->npart && !fs_used_understood(d->fstype))
        snprintf(why, sizeof(why), "its %s filesystem is not one --mode used understands", d->fstype);
    for (size_t i = 0; !why[0] && i < d->npart; i++) {
        const struct dev_partition *p = &d->parts[i];
        if (!layout_boot_type(p->type) && !layout_extended_type(p->type) && !opaque_partition(p) &&
            !fs_used_understood(p->fstype))
            snprintf(why, sizeof(why), "partition #%d (%s) is not one --mode used understands", p->number,
                     p->fstype[0] ? p->fstype : "no filesystem");
    }
    if (why[0]) {
        job_note(job, "every sector of %s is copied (--mode raw): %s", job->src.path, why);
        return false;
    }
    job_note(job, "--mode used (the default: clonebay understands every partition of %s); --mode raw "
                   "copies every sector", job->src.path);
    return true;
}
/* An optical disc (or any .iso): read only its volume, not the run-out. The
 * volume is the ISO 9660 one, or the UDF one when it reaches further (UDF
 * bridge discs) or is the only one (Blu-ray discs). */
static void limit_to_disc_volume(struct job *job)
{
    uint64_t iso = 0, udf = 0, bytes = 0;
    char iso_label[40] = "", udf_label[128] = "", a[32], b[32], what[200];
    int ri = iso9660_volume(&job->src, &iso, iso_label, sizeof(iso_label));
    int ru = udf_volume(&job->src, &udf, udf_label, sizeof(udf_label));
    if (ru > 0 && (ri <= 0 || udf > iso)) {
        bytes = udf;
        snprintf(what, sizeof(what), "UDF volume '%s'%s", udf_label, ri > 0 ? " (beyond its ISO 9660 bridge)" : "");
    } else if (ri > 0) {
        bytes = iso;
        snprintf(what, sizeof(what), "ISO 9660 volume '%s'", iso_label);
    }
    char note[320];
    size_t len = sizeof(note);
    if (!bytes && (ri < 0 || ru < 0)) {
        snprintf(note, len, "the volume descriptors of %s cannot be read (%s): the whole device is imaged",
                 job->src.path, strerror(ri < 0 ? -ri : -ru));
    } else if (!bytes) {
        snprintf(note, len, "no ISO 9660 or UDF volume on %s: the whole device is imaged", job->src.path);
    } else if (bytes > job->src.size) {
        snprintf(note, len, "%s claims %llu bytes but %s holds %llu: the whole device is imaged", what,
                 (unsigned long long)bytes, job->src.path, (unsigned long long)job->src.size);
    } else {
        units_format_bytes(bytes, a, sizeof(a));
        units_format_bytes(job->src.size, b, sizeof(b));
        snprintf(note, len, "%s: %s (%llu bytes) of the %s the device reports%s", what, a,
                 (unsigned long long)bytes, b, bytes < job->src.size ? "; the run-out after it is not read" : "");
        job->src.size = bytes;
        job->source.size = bytes;
    }
    job_note(job, "%s", note);
}
/* How the map names a target: the drive's identity, or a file's inode. */
static void target_key(const struct job *job, size_t i, char *buf, size_t len)
{
    const struct io_dev *d = &job->ctargets[i].dev;
    if ((int)i == job->image_target)
        snprintf(buf, len, "image %s", job->image_final);
    else if (job->targets[i].has_ident)
        dev_ident_key(&job->targets[i].ident, buf, len);
    else
        snprintf(buf, len, "file %lu:%lu", (unsigned long)d->st_dev, (unsigned long)d->ino);
}
/* A map calls regions finished on the targets it was written to: resuming
 * onto any other drive would skip what that drive never got. */
static int check_map_targets(struct job *job, const struct block_map *m, struct cb_error *err)
{
    if (job->ops->makes_image)
        return 0;
    if (!m->ntarget_ids) {
        job_note(job, "map file %s names no target (made by ddrescue or an older clonebay): what it calls "
                       "finished is re-read from the source for the hashes, so verification checks the targets",
                       job->map_path);
        return 0;
    }
    for (size_t i = 0; i < job->ntargets; i++) {
        char key[160];
        target_key(job, i, key, sizeof(key));
        bool known = false;
        for (int k = 0; k < m->ntarget_ids && !known; k++)
            known = strcmp(m->target_ids[k], key) == 0;
        if (!known)
            return cb_error_set(err, -EINVAL, "map file %s was written to %s%s, not to target %s (%s): refusing "
                                "to resume onto another drive; give a new map file to copy afresh", job->map_path,
                                m->target_ids[0], m->ntarget_ids > 1 ? " and others" : "", job->targets[i].path,
                                key);
    }
    return 0;
}
static int prepare_map(struct job *job, struct cb_error *err)
{
    char id[160] = "";
    if (job->source.serial[0])
        snprintf(id, sizeof(id), "serial %s", job->source.serial);
    else if (job->source.has_ident)
        dev_ident_key(&job->source.ident, id, sizeof(id));
    struct block_map m = { 0 };
    /* A raw image is a new file every run, and a compressed one goes on only
     * from its FILE.partial: without it an old map would claim a resume that
     * does not happen. */
    char partial[4300], first_part[4310];
    snprintf(partial, sizeof(partial), "%s.partial", job->image_final);
    snprintf(first_part, sizeof(first_part), "%s.000", partial);
    bool fresh = job->ops->makes_image && job->map_path[0] && access(job->map_path, F_OK) == 0 &&
                 (job->raw || (access(partial, F_OK) != 0 && access(first_part, F_OK) != 0));
    if (fresh)
        job_note(job, "map file %s is started afresh: %s", job->map_path,
                       job->raw ? "a raw image is written from the start on every run"
                                : "the unfinished image it describes is not there");
    if (job->map_path[0] && !fresh && access(job->map_path, F_OK) == 0) {
        int rc = map_load(&m, job->map_path, err);
        if (rc)
            return rc;
        if (m.source_id[0] && id[0] && strcmp(m.source_id, id) != 0)
            rc = cb_error_set(err, -EINVAL, "map file %s belongs to another drive (%s), not to %s (%s): "
                              "refusing to resume", job->map_path, m.source_id, job->src.path, id);
        else if (m.size != job->src.size)
            rc = cb_error_set(err, -EINVAL, "map file %s describes a %llu-byte source, but %s has %llu bytes: "
                              "it belongs to another drive", job->map_path,
                              (unsigned long long)m.size, job->src.path, (unsigned long long)job->src.size);
        if (rc) {
            map_free(&m);
            return rc;
        }
        job->resumed = true;
    } else if (map_init(&m, job->src.size, MAP_NONTRIED)) {
        return cb_error_set(err, -ENOMEM, "out of memory");
    }
    if (!m.source_id[0])
        snprintf(m.source_id, sizeof(m.source_id), "%s", id);
    int rc = job->resumed ? check_map_targets(job, &m, err) : 0;
    if (rc) {
        map_free(&m);
        return rc;
    }
    /* From now on the map names these targets (a resume with fewer keeps those). */
    m.ntarget_ids = 0;
    for (size_t i = 0; i < job->ntargets && !job->ops->makes_image && i < MAP_MAX_TARGETS; i++)
        target_key(job, i, m.target_ids[m.ntarget_ids++], sizeof(m.target_ids[0]));
    pthread_mutex_lock(&job->map_mu);      /* the station may be copying it already */
    map_free(&job->map);
    job->map = m;
    pthread_mutex_unlock(&job->map_mu);
    return 0;
}
struct job_request job_named_request(const struct job_request *req)
{
    struct job_request named = *req;
    const struct job_kind_ops *ops = job_kind_ops(req->kind);
    if (ops->name_request)
        ops->name_request(&named);
    return named;
}
/* The job's fields that come straight from the request: no I/O at all. */
int job_alloc(const struct job_request *req, struct job **out, struct cb_error *err)
{
    *out = NULL;
    if (req->ntargets == 0)
        return cb_error_set(err, -EINVAL, "no target given");
    if (req->ntargets > JOB_MAX_TARGETS)
        return cb_error_set(err, -EINVAL, "at most %d targets per job", JOB_MAX_TARGETS);
    const struct job_kind_ops *ops = job_kind_ops(req->kind);
    int image_target = ops->image_target ? ops->image_target(req, err) : -1;
    if (image_target < -1)
        return image_target;
    struct job *job = calloc(1, sizeof(*job));
    if (!job)
        return cb_error_set(err, -ENOMEM, "out of memory");
    job->src.fd = -1;
    pthread_mutex_init(&job->map_mu, NULL);
    for (size_t i = 0; i < JOB_MAX_TARGETS; i++)
        job->ctargets[i].dev.fd = -1;
    job->kind = req->kind;
    job->ops = ops;
    job->ntargets = req->ntargets;
    job->hash_mask = req->hash_mask;
    job->level = req->level;
    job->split = req->split;
    job->force = req->force;
    job->optical = req->optical;
    job->verify = req->verify;
    job->max_read_rate = req->max_read_rate;
    job->retries = req->retries;
    if (req->fill)
        snprintf(job->fill, sizeof(job->fill), "%s", req->fill);
    job->progress.event_fd = -1;
    if (req->map_path)
        snprintf(job->map_path, sizeof(job->map_path), "%s", req->map_path);
    snprintf(job->source.path, sizeof(job->source.path), "%s", req->source);
    for (size_t i = 0; i < req->ntargets; i++)
        snprintf(job->targets[i].path, sizeof(job->targets[i].path), "%s", req->targets[i]);
    job->image_target = image_target;
    *out = job;
    return 0;
}
/* The drive the operator confirmed is the one found now, or a refusal. */
static int check_confirmed(const char *role, const char *path, const struct dev_ident *confirmed,
                           const struct dev_drive *d, struct cb_error *err)
{
    char why[300];
    if (!confirmed || (!confirmed->major && !confirmed->minor) || dev_ident_matches(confirmed, d, why, sizeof(why)))
        return 0;
    return cb_error_set(err, -ESTALE, "%s %s is not the drive that was confirmed (%s%s%s, %s): %s", role, path,
                        confirmed->model[0] ? confirmed->model : "no model", confirmed->serial[0] ? ", serial " : "",
                        confirmed->serial, confirmed->name, why);
}
/* Everything about the source and the targets that refuses a job, from the
 * drive list. light: identity and safety only (no media read, no image
 * opened), for a pre-flight on a UI thread. */
static int check_endpoints(struct job *job, const struct job_request *req, bool light, struct dev_list *devs,
                           struct node *sn, const struct dev_drive **source_drive, struct cb_error *err)
{
    struct sysfs_ctx ctx;
    sysfs_init(&ctx, NULL);
    struct node tn[JOB_MAX_TARGETS];
    memset(sn, 0, sizeof(*sn));             /* a stream is no node at all */
    bool url = http_range_is_url(req->source);
    bool remote = req->stream || req->join || url;     /* no node at all */
    if (url && !job->ops->reads_image)
        return cb_error_set(err, -EINVAL, "%s is a URL: only an image is read over HTTP (clonebay restore %s DST)",
                            req->source, req->source);
    int rc = remote ? 0 : stat_node(req->source, sn);
    if ((rc || !sn->is_block) && req->source_ident && (req->source_ident->major || req->source_ident->minor))
        return cb_error_set(err, -ENODEV, "source %s (%s) was removed: nothing was written", req->source,
                            req->source_ident->model);
    if (rc == -ENOENT && job->ops->reads_image) {      /* FILE of a split image: FILE.000 */
        char first[4200];
        snprintf(first, sizeof(first), "%s.000", req->source);
        rc = stat_node(first, sn);
    }
    if (!rc && job->ops->check_source)
        rc = job->ops->check_source(job, req, sn->is_block, light, err);
    if (rc && err->msg[0])
        return rc;
    if (rc)
        return cb_error_set(err, rc, rc == -EINVAL ? "source %s is neither a block device nor a regular file"
                            : "cannot open source %s: %s", req->source, strerror(-rc));
    /* Only the drives of this job are probed: a failing drive in another bay
     * must not make this job's preparation slow. */
    char names[JOB_MAX_TARGETS + 1][64];
    const char *only[JOB_MAX_TARGETS + 2];
    size_t n = 0;
    if (sn->is_block)
        dev_name_of(&ctx, dev_whole_disk(&ctx, sn->rdev), names[n], sizeof(names[n]));
    if (sn->is_block && names[n][0])
        only[n] = names[n], n++;
    for (size_t i = 0; i < req->ntargets; i++) {
        struct node t;
        if ((int)i == job->image_target || stat_node(req->targets[i], &t) || !t.is_block)
            continue;
        dev_name_of(&ctx, dev_whole_disk(&ctx, t.rdev), names[n], sizeof(names[n]));
        if (names[n][0])
            only[n] = names[n], n++;
    }
    only[n] = NULL;
    rc = dev_scan(&(struct dev_scan_opts){ .identity_only = light, .only = only }, devs, err);
    if (rc)
        return rc;
    if (sn->is_block) {
        bool part;
        struct dev_drive *d = drive_of(devs, &ctx, sn->rdev, &part);
        if (d) {
            describe_drive(d, &job->source);
            dev_ident_of(d, &job->source.ident);
            job->source.has_ident = true;
            if ((rc = check_confirmed("source", req->source, req->source_ident, d, err)))
                return rc;
        }
        if (!d && req->source_ident && (req->source_ident->major || req->source_ident->minor))
            return cb_error_set(err, -ENODEV, "source %s is not the drive that was confirmed (%s): it is not "
                                "listed any more", req->source, req->source_ident->model);
        if (d && d->is_optical && !d->optical.media)
            return cb_error_set(err, -ENOMEDIUM, "there is no disc in %s", req->source);
        if (d && d->is_optical && d->optical.audio_tracks && !d->optical.data_tracks)
            return cb_error_set(err, -ENOTSUP, "the disc in %s is an audio CD (%u tracks): it has no data to save "
                                "as an ISO image", req->source, d->optical.audio_tracks);
        *source_drive = d;
        if (d && d->is_optical && d->optical.audio_tracks)
            job_note(job, "mixed-mode disc: its %u audio tracks are not in the ISO image, only the data track",
                     d->optical.audio_tracks);
    } else {
        snprintf(job->source.kind, sizeof(job->source.kind), "%s", req->stream ? "network" : remote ? "http" : "file");
    }
    for (size_t i = 0; i < req->ntargets; i++) {
        if ((int)i == job->image_target) {
            for (size_t j = 0; j < req->ntargets; j++)
                if (j != i && strcmp(req->targets[i], req->targets[j]) == 0)
                    return cb_error_set(err, -EINVAL, "target %s is given twice", req->targets[i]);
            continue;       /* image_job_prepare_dest judges it */
        }
        int s = stat_node(req->targets[i], &tn[i]);
        bool confirmed_drive = req->target_idents && (req->target_idents[i].major || req->target_idents[i].minor);
        if (confirmed_drive && (s || !tn[i].is_block))
            return cb_error_set(err, -ENODEV, "target %s (%s%s%s) was removed: it is not the drive that was "
                                "confirmed; nothing was written", req->targets[i], req->target_idents[i].model,
                                req->target_idents[i].serial[0] ? ", serial " : "", req->target_idents[i].serial);
        if (s == -ENOENT)
            tn[i] = (struct node){ 0 };         /* a new file */
        else if (s)
            return cb_error_set(err, s, s == -EINVAL ? "target %s is neither a block device nor a regular file"
                                : "cannot use target %s: %s", req->targets[i], strerror(-s));
        for (size_t j = 0; j < i; j++)
            if ((tn[i].exists && tn[j].exists && same_node(&tn[i], &tn[j])) ||
                strcmp(req->targets[i], req->targets[j]) == 0)
                return cb_error_set(err, -EINVAL, "target %s is given twice", req->targets[i]);
        if (!tn[i].exists)
            snprintf(job->targets[i].kind, sizeof(job->targets[i].kind), "file");
        else if ((rc = check_target(job, i, &tn[i], sn, devs, &ctx, err)))
            return rc;
        else if (job->targets[i].has_ident && req->target_idents &&
                 (rc = check_confirmed("target", req->targets[i], &req->target_idents[i],
                                       drive_of(devs, &ctx, tn[i].rdev, &(bool){ false }), err)))
            return rc;
    }
    return 0;
}
/* Everything after the checks: open, plan, map. The slow part (media
 * reads, filesystem bitmaps, resize2fs -P), run by the job's thread for a
 * queued job. */
int job_prepare_open(struct job *job, const struct job_request *orig, struct cb_error *err)
{
    struct job_request named = job_named_request(orig);
    const struct job_request *req = &named;
    struct sysfs_ctx ctx;
    sysfs_init(&ctx, NULL);
    struct dev_list devs = { 0 };
    struct node sn;
    const struct dev_drive *source_drive = NULL;     /* in devs, alive until the end */
    int rc = check_endpoints(job, req, false, &devs, &sn, &source_drive, err);
    if (!rc)
        rc = open_everything(job, req, err);
    if (!rc && req->mode == COPY_USED && job->ops->reads_image)
        rc = cb_error_set(err, -EINVAL, "--mode used applies when an image is made (clonebay image --mode used)");
    if (!rc && req->mode == COPY_USED && !source_drive)
        rc = cb_error_set(err, -EINVAL, "--mode used needs a source drive clonebay lists (%s is not one)",
                          req->source);
    if (!rc && (req->mode == COPY_USED || (req->mode == COPY_AUTO && used_by_default(job, req, source_drive))))
        rc = build_domain(job, source_drive, err);
    if (!rc && !job->stream)      /* fitting partitions reads the image out of order */
        rc = resize_job_prepare(job, req->resize, err);
    if (!rc && job->resize)
        rc = resize_job_domain(job, err);
    for (size_t i = 0; !rc && !job->resize && i < job->ntargets; i++) {
        const struct io_dev *t = &job->ctargets[i].dev;
        char a[512], b[512];
        if ((int)i != job->image_target && t->is_block && t->size < job->src.size)
            rc = cb_error_set(err, -ENOSPC, "target %s is smaller than source %s%s",
                              who(&job->targets[i], a, sizeof(a)), who(&job->source, b, sizeof(b)),
                              !job->ops->reads_image ? " and no partition table says what it holds" : "");
    }
    if (!rc && job->ops->makes_image && req->optical)
        limit_to_disc_volume(job);
    if (!rc && job->image_target >= 0 && job->resize)
        rc = cb_error_set(err, -EINVAL, "the drives need their partitions fitted (%s): an image in the same job "
                          "is not supported; make the image in a job of its own", job->targets[0].path);
    if (!rc && job->image_target >= 0)
        rc = image_job_prepare_dest(job, req, sn.is_block, sn.is_block ? sn.rdev : sn.st_dev, &ctx, err);
    if (!rc)
        rc = prepare_map(job, err);
    if (!rc && !req->dry_run)
        job_health_before(job);     /* for the report; smartctl can take seconds, so not for a preview */
    dev_list_free(&devs);
    return rc;
}
int job_prepare_check(struct job *job, const struct job_request *req, struct cb_error *err)
{
    struct dev_list devs = { 0 };
    struct node sn;
    const struct dev_drive *source_drive = NULL;
    int rc = check_endpoints(job, req, true, &devs, &sn, &source_drive, err);
    dev_list_free(&devs);
    return rc;
}
