#include "jobs/resize_job.h"
#include "clone/resize_plan.h"
#include "clone/fs/fs.h"
#include "clone/image_read.h"
#include "clone/iso9660.h"
#include "common/safe_file.h"
#include "common/test_hook.h"
#include "common/units.h"
#include "devices/dev_partitions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* An ext, NTFS or FAT filesystem shrunk in a scratch file before the targets are
 * written, to the least any target's plan gives it (larger targets grow it
 * again once it is copied). */
struct scratch {
    size_t part;                    /* index in layout.parts */
    uint64_t size;                  /* what it is shrunk to */
    char dir[4200];                 /* its private folder, removed with it */
    char path[4200];
    char digest[HASH_MAX_HEX];      /* of its used blocks, as copied to the targets */
};

struct resize_state {
    struct layout layout;           /* the source's, with what each partition may do */
    struct resize_plan plan;        /* each target's layout and remap, the scratch steps (clone/resize_plan.h) */
    char uuid[LAYOUT_MAX_PARTS][64];
    char label[LAYOUT_MAX_PARTS][128];
    struct scratch scratch[RESIZE_MAX_SCRATCH];
    size_t nscratch;
    /* Why a partition that could have shrunk may not ("" when it may): its
     * filesystem cannot be believed about what it uses, and what to do. */
    char no_shrink[LAYOUT_MAX_PARTS][400];
    /* FAT: the most its type addresses (0: not a FAT). A partition planned
     * larger holds a filesystem of this size. */
    uint64_t fat_max[LAYOUT_MAX_PARTS];
    /* Restoring an image: its table area and each partition's first MiB,
     * decoded into memory, so blkid and superblock readers see a drive. */
    struct io_dev view;
};

#define VIEW_HEAD (1u << 20)

/* The in-memory view of the image holding [0, VIEW_HEAD) and the start of
 * every partition of l (none yet: NULL). */
static int open_view(struct job *job, struct resize_state *st, const struct layout *l, struct cb_error *err)
{
    struct img_range r[LAYOUT_MAX_PARTS + 1];
    size_t n = 0;
    r[n++] = (struct img_range){ 0, VIEW_HEAD };
    for (size_t i = 0; l && i < l->nparts; i++)
        if (!l->parts[i].extended)
            r[n++] = (struct img_range){ l->parts[i].start, l->parts[i].size < VIEW_HEAD ? l->parts[i].size : VIEW_HEAD };
    if (st->view.fd >= 0)
        close(st->view.fd);
    st->view = (struct io_dev){ .fd = -1, .size = job->src.size, .sector = job->src.sector };
    int rc = image_view(job->image, r, n, &st->view.fd, err);
    snprintf(st->view.path, sizeof(st->view.path), "/proc/self/fd/%d", st->view.fd);
    return rc;
}

/* Partitions boot loaders and firmware find by place and size: never resized. */
static bool boot_critical(const struct layout_part *p)
{
    if (layout_boot_type(p->type) || layout_msr_type(p->type) ||
        !strcasecmp(p->type, "0x27"))       /* MBR hidden recovery */
        return true;
    /* Windows recovery partitions (under ~2 GiB) hold images found by offset. */
    return !strcasecmp(p->type, "de94bba4-06d1-4d40-a16a-bfd50179d6ac") && p->size < (2ull << 30);
}

/* Whether partition p of the source drive can be believed about what it
 * uses: not when it is in use on this machine, or was left in the middle of
 * changes (fs_used_trusted). When not, why says so and mounted which. */
static bool untrusted(const struct job *job, const struct layout_part *p, bool *mounted, char *why,
                      size_t len)
{
    *mounted = job_source_mounted_rw(job, p->start, p->size, why, len);
    return *mounted || fs_used_trusted(job->src.path, p->start, p->size, p->fstype, why, len) == 0;
}

/* A filesystem that cannot be believed is copied whole (job's
 * build_domain) and its size is not changed on what it says it uses: ext
 * does not shrink (it still grows: e2fsck replays its journal on the target
 * first), NTFS keeps its size (ntfsresize would act on the unreplayed
 * volume). */
static void distrust(struct job *job, struct resize_state *st, size_t i)
{
    struct layout_part *p = &st->layout.parts[i];
    const struct fs_ops *fs = fs_ops_find(p->fstype);
    if (job->image || !fs || !fs->trusted || p->fit == FIT_FIXED || (p->fit == FIT_GROW && !fs->untrusted_no_grow))
        return;
    char why[300];
    bool mounted;
    if (!untrusted(job, p, &mounted, why, sizeof(why)))
        return;
    if (p->fit == FIT_ANY)
        snprintf(st->no_shrink[i], sizeof(st->no_shrink[i]), "partition #%d (%s) would have to shrink, and cannot "
                 "be shrunk safely: %s; %s, then start the job again", p->number, p->fstype, why,
                 /* one that keeps its size (NTFS) waits for its own system's remedy, mounted or not */
                 mounted && !fs->grow_later ? "unmount it" : fs->remedy);
    p->fit = fs->untrusted_fit;
    if (fs->grow_later)
        job_note(job, "partition #%d (%s) keeps its size on the target: %s (%s)", p->number, p->fstype, why,
                       fs->grow_later);
}

/* The plan failed with partitions kept from shrinking: when it works with
 * them allowed to, that is the reason to give. */
static void explain_refusal(struct resize_state *st, uint64_t tsize, enum layout_resize how, const char *tname,
                            struct cb_error *err)
{
    bool any = false;
    for (size_t i = 0; i < st->layout.nparts; i++)
        if (st->no_shrink[i][0]) {
            st->layout.parts[i].fit = FIT_ANY;
            if (!st->layout.parts[i].min_size)     /* never asked: as if it could shrink to nothing */
                st->layout.parts[i].min_size = 1u << 20;
            any = true;
        }
    struct cb_error ignored = { 0 };
    if (!any || layout_plan(&st->layout, tsize, how, tname, &ignored) != 0)
        return;
    for (size_t i = 0; i < st->layout.nparts; i++)
        if (st->no_shrink[i][0] && st->layout.parts[i].new_size < st->layout.parts[i].size) {
            cb_error_set(err, -ENOSPC, "%s; no target was written", st->no_shrink[i]);
            return;
        }
}

/* What the image's used map holds of partition p, in bytes. */
static uint64_t image_used(const struct job *job, const struct layout_part *p)
{
    uint64_t used = 0, at = p->start, end = p->start + p->size, q, n;
    for (; at < end && map_find(&job->domain, at, "+", &q, &n) && q < end; at = q + n)
        used += (q + n > end ? end : q + n) - q;
    return used;
}

/* A FAT's limits: the most its type addresses, and the least it fits in (in
 * an image, whose view holds only the FAT's first MiB, from the image's used
 * map: its boot area, FATs and clusters in use, with the room
 * fat_resize_limits leaves). A FAT that cannot be read keeps its size. */
static void fat_limits(const struct job *job, struct resize_state *st, size_t i, const struct io_dev *src)
{
    struct layout_part *p = &st->layout.parts[i];
    uint64_t least;
    char why[300];
    if (fs_ops_find(p->fstype)->limits(src->path, p->start, p->size, &least, &st->fat_max[i], why, sizeof(why))) {
        p->fit = FIT_FIXED;
        st->fat_max[i] = 0;
        return;
    }
    uint64_t used = job->image ? image_used(job, p) : 0;
    used += job->image ? used / 20 + (1u << 20) : 0;
    if (p->fit == FIT_ANY)
        p->min_size = least > used ? least : used;
}

/* What each partition holds and how it may change size. */
static void classify(struct job *job, struct resize_state *st)
{
    struct layout *l = &st->layout;
    const struct io_dev *src = job->image ? &st->view : &job->src;
    for (size_t i = 0; i < l->nparts; i++) {
        struct layout_part *p = &l->parts[i];
        if (p->extended)
            continue;
        dev_probe_fs(src->fd, p->start, p->size, p->fstype, sizeof(p->fstype), st->label[i],
                     sizeof(st->label[i]), st->uuid[i], sizeof(st->uuid[i]));
        const struct fs_ops *fs = fs_ops_find(p->fstype);
        p->fit = boot_critical(p) ? FIT_FIXED : fs_resize_fit(p->fstype);
        /* A raw copy moves every sector: nothing can shrink but swap, which is re-created. */
        if (p->fit == FIT_ANY && !job->used_only && !fs->recreated)
            p->fit = FIT_GROW;
        distrust(job, st, i);       /* first: an untrusted filesystem's own minimum means nothing */
        char node[64] = "";
        if (p->fit == FIT_ANY && job->src.is_block)
            layout_source_node(job->src.rdev, p, node, sizeof(node));
        if (p->fit != FIT_FIXED && fs->limits)
            fat_limits(job, st, i, src);
        else if (p->fit == FIT_ANY && job->image && fs->min_of_used)
            p->min_size = fs->min_of_used(image_used(job, p));  /* no ntfsresize on an image */
        else if (p->fit == FIT_ANY && fs_resize_min(src->path, p->start, p->size, p->fstype, node, &p->min_size))
            p->fit = FIT_GROW;      /* the superblock cannot be read: do not shrink it */
    }
}

/* Partitions after the table, in order, none inside another (logical ones
 * inside their extended container excepted). */
static bool plain_disk(const struct layout *l)
{
    uint64_t end = 0;
    for (size_t i = 0; i < l->nparts; i++) {
        const struct layout_part *p = &l->parts[i];
        if (p->start < l->sector || (!p->logical && p->start < end))
            return false;
        if (!p->logical)
            end = p->start + p->size;
    }
    return true;
}

/* Each target's own plan, from the classified source layout; the scratch
 * steps become this job's scratch files. */
static int plan_targets(struct job *job, struct resize_state *st, enum layout_resize how,
                        struct cb_error *err)
{
    uint64_t sizes[JOB_MAX_TARGETS];
    const char *names[JOB_MAX_TARGETS];
    for (size_t t = 0; t < job->ntargets; t++) {
        sizes[t] = job->ctargets[t].dev.size;
        names[t] = job->ctargets[t].dev.path;
    }
    int rc = resize_plan_make(&st->layout, sizes, names, job->ntargets, how, job->used_only, &st->plan, err);
    if (rc == -ENOSPC)
        explain_refusal(st, sizes[st->plan.refused], how, names[st->plan.refused], err);
    for (size_t i = 0; !rc && i < st->plan.nscratch; i++) {
        st->scratch[i].part = st->plan.scratch[i].part;
        st->scratch[i].size = st->plan.scratch[i].size;
    }
    st->nscratch = rc ? 0 : st->plan.nscratch;
    return rc;
}

/* A FAT planned larger than its type addresses grows only that far: said
 * before the job starts. */
static void note_fat_limits(struct job *job, const struct resize_state *st, size_t t)
{
    for (size_t k = 0; k < st->layout.nparts; k++) {
        const struct layout_part *p = &st->plan.targets[t].l.parts[k];
        if (!st->fat_max[k] || p->new_size <= st->fat_max[k] || p->new_size <= p->size)
            continue;
        char a[32], b[32];
        units_format_bytes(p->new_size, a, sizeof(a));
        units_format_bytes(st->fat_max[k] > p->size ? st->fat_max[k] : p->size, b, sizeof(b));
        job_note(job, "partition #%d (vfat) gets %s on %s, but its FAT type with its cluster size addresses "
                       "at most %s: the filesystem grows to that and the rest of the partition stays unused",
                       p->number, a, job->ctargets[t].dev.path, b);
    }
}

int resize_job_prepare(struct job *job, enum layout_resize how, struct cb_error *err)
{
    if (job->ops->makes_image || job->ntargets == 0)
        return 0;
    uint64_t tsize = job->ctargets[0].dev.size;
    bool same = true, any_smaller = false;
    for (size_t i = 0; i < job->ntargets; i++) {
        const struct io_dev *t = &job->ctargets[i].dev;
        if (!t->is_block)
            return 0;       /* files grow to what is written */
        same &= t->size == tsize;
        any_smaller |= t->size < job->src.size;
    }
    if (same && tsize == job->src.size)
        return 0;
    struct resize_state *st = calloc(1, sizeof(*st));
    if (!st)
        return cb_error_set(err, -ENOMEM, "out of memory");
    st->view.fd = -1;
    int rc = job->image ? open_view(job, st, NULL, err) : 0;
    if (rc)
        goto none;
    uint64_t iso_bytes;
    char iso_label[40];
    if (iso9660_volume(job->image ? &st->view : &job->src, &iso_bytes, iso_label, sizeof(iso_label)) > 0) {
        /* A hybrid ISO's tables describe a disc image: sticks get it byte for byte
         * (not even the GPT backup moves), as dd, Rufus' DD mode and Etcher do. */
        job_note(job, "%s holds an ISO 9660 volume ('%s'): its partition tables are copied as they are",
                       job->src.path, iso_label);
        job->table_as_is = true;
        goto none;
    }
    if (how == RESIZE_KEEP && !any_smaller)
        goto none;
    layout_read_fn rd = job->image ? image_read_fn : layout_read_io;
    void *ctx = job->image ? (void *)job->image : &job->src;
    rc = layout_read(&st->layout, rd, ctx, job->src.path, job->src.size, job->src.sector, err);
    if (rc || st->layout.kind == LAYOUT_NONE || st->layout.nparts == 0)
        goto none;
    if (job->image && (rc = open_view(job, st, &st->layout, err)) != 0)
        goto none;
    if (!plain_disk(&st->layout)) {
        job_note(job, "the partition table of %s overlaps itself or its own sector 0: copied as it is",
                       job->src.path);
        goto none;
    }
    if (!same && !any_smaller)
        goto none;          /* copied as it is; each GPT backup moves to its disk's end */
    /* An image made with --mode used records what the filesystems use: the
     * restore then copies only that, and ext can shrink, as a clone would. */
    if (job->image && job->image->meta.nused) {
        if (map_init(&job->domain, job->src.size, MAP_NONTRIED) ||
            image_used_mark(job->image, 0, job->src.size, &job->domain) < 0) {
            rc = cb_error_set(err, -ENOMEM, "out of memory");
            goto none;
        }
        job->used_only = true;
    }
    classify(job, st);
    if ((rc = plan_targets(job, st, how, err)) != 0)
        goto none;      /* the job is refused: its domain goes with it */
    job->resize = st;
    for (size_t t = 0; t < st->plan.ntargets; t++) {
        char plan[1024];
        resize_job_describe_target(job, t, plan, sizeof(plan));
        job_note(job, "%s", plan);
        note_fat_limits(job, st, t);
    }
    return 0;
none:
    job->resize = st;
    resize_job_free(job);
    return rc;
}

int resize_job_domain(struct job *job, struct cb_error *err)
{
    struct resize_state *st = job->resize;
    if (!job->used_only && map_init(&job->domain, job->src.size, MAP_NONTRIED))
        return cb_error_set(err, -ENOMEM, "out of memory");
    uint64_t prev = 0;
    const struct io_remap *remap = &st->plan.targets[0].remap;     /* every plan reads the same ranges */
    for (size_t i = 0; i < remap->n; i++) {
        const struct io_extent *e = &remap->ext[i];
        if (e->src > prev)
            map_mark(&job->domain, prev, e->src - prev, MAP_NONTRIED);
        if (!job->used_only)
            map_mark(&job->domain, e->src, e->len, MAP_FINISHED);
        prev = e->src + e->len;
    }
    if (prev < job->src.size)
        map_mark(&job->domain, prev, job->src.size - prev, MAP_NONTRIED);
    return 0;
}

/* One engine run outside the job's main copy: copy, then verify (unless the
 * operator said --no-verify: then neither the scratch file nor the targets
 * are read back, as in the main copy). */
static int run_engine(struct job *job, struct io_dev *src, struct engine_target *t, size_t n,
                      const struct block_map *domain, char *digest, struct cb_error *err)
{
    struct block_map map;
    if (map_init(&map, src->size, MAP_NONTRIED))
        return cb_error_set(err, -ENOMEM, "out of memory");
    struct engine_task e = {
        .source = src == &job->src ? job_source(job) : engine_source_dev(src), .targets = t, .ntargets = n, .map = &map, .domain = domain,
        .hash_mask = 1u << job->engine.verify_alg, .verify_alg = job->engine.verify_alg,
        .retries = job->retries, .fill = job->fill[0] ? job->fill : NULL, .progress = &job->progress,
    };
    int rc = engine_run(&e, err);
    if (!rc && e.cancelled)
        rc = cb_error_set(err, -ECANCELED, "cancelled by the operator");
    if (!rc && map_bytes(&map, MAP_BAD))
        job_note(job, "%llu unreadable bytes of %s were written as zeros to %s",
                       (unsigned long long)map_bytes(&map, MAP_BAD), src->path, t[0].dev.path);
    if (!rc && job->verify)
        rc = engine_verify(&e, err);
    if (!rc)
        snprintf(digest, HASH_MAX_HEX, "%s", e.digests[e.verify_alg]);
    engine_release(&e);
    map_free(&map);
    return rc;
}

static const char *scratch_dir(void)
{
    const char *d = getenv("CLONEBAY_SCRATCH");
    return d && d[0] ? d : "/var/tmp";
}

/* Copy the used blocks of partition p into a sparse file, shrink it there. */
static int shrink_in_scratch(struct job *job, struct scratch *sc, struct cb_error *err)
{
    struct resize_state *st = job->resize;
    const struct layout_part *p = &st->layout.parts[sc->part];
    struct block_map dom;
    if (map_init(&dom, job->src.size, MAP_NONTRIED))
        return cb_error_set(err, -ENOMEM, "out of memory");
    char why[300] = "";
    int rc = job->image ? image_used_mark(job->image, p->start, p->size, &dom)
                        : fs_used_mark(job->src.path, p->start, p->size, p->fstype, &dom, why, sizeof(why));
    if (rc <= 0 && job->image)
        snprintf(why, sizeof(why), "%s", rc < 0 ? "out of memory" : "the image records no used blocks");
    if (rc <= 0) {
        map_free(&dom);
        return cb_error_set(err, rc < 0 ? rc : -EINVAL, "partition #%d (%s) must shrink but its used blocks "
                            "cannot be read: %s; no target was written", p->number, p->fstype, why);
    }
    uint64_t used = map_bytes(&dom, MAP_FINISHED);
    struct statvfs vfs;
    if (statvfs(scratch_dir(), &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < used + (64u << 20)) {
        char a[32];
        units_format_bytes(used + (64u << 20), a, sizeof(a));
        map_free(&dom);
        return cb_error_set(err, -ENOSPC, "shrinking partition #%d (%s) needs %s of scratch space in %s "
                            "(set CLONEBAY_SCRATCH to a roomier directory); no target was written",
                            p->number, p->fstype, a, scratch_dir());
    }
    /* $CLONEBAY_SCRATCH may be a shared /var/tmp: a name others can guess
     * would let them plant a link there, or read the source's files. */
    char what[32];
    snprintf(what, sizeof(what), "shrink-p%d", p->number);
    int made = safe_file_scratch(scratch_dir(), what, sc->dir, sizeof(sc->dir), sc->path, sizeof(sc->path));
    if (made < 0) {
        map_free(&dom);
        return cb_error_set(err, made, "cannot make a scratch file in %s to shrink partition #%d: %s; no target "
                            "was written", scratch_dir(), p->number, strerror(-made));
    }
    cb_test_pause("CLONEBAY_TEST_PAUSE_SCRATCH");       /* tests look at the modes here */
    struct engine_target t = { 0 };
    rc = io_open_target(sc->path, false, &t.dev, err);
    close(made);
    if (!rc && ftruncate(t.dev.fd, (off_t)p->size) != 0)
        rc = cb_error_set(err, -errno, "cannot size scratch file %s", sc->path);
    if (!rc) {
        struct io_extent ext = { .src = p->start, .len = p->size, .dst = 0 };
        struct io_remap remap = { .ext = &ext, .n = 1 };
        t.dev.size = p->size;
        t.dev.remap = &remap;
        t.sparse = true;
        char digest[HASH_MAX_HEX];
        rc = run_engine(job, &job->src, &t, 1, &dom, digest, err);
        t.dev.remap = NULL;
    }
    if (t.dev.fd >= 0)
        io_close(&t.dev);
    map_free(&dom);
    if (!rc)
        rc = fs_resize_run(sc->path, p->fstype, sc->size, st->uuid[sc->part], st->label[sc->part],
                           job->tool_log, sizeof(job->tool_log), err);
    if (!rc && truncate(sc->path, (off_t)sc->size) != 0)
        rc = cb_error_set(err, -errno, "cannot cut scratch file %s to size", sc->path);
    if (rc) {
        char msg[sizeof(err->msg)];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        cb_error_set(err, rc, "shrinking partition #%d (%s) failed before any target was written: %s",
                     p->number, p->fstype, msg);
    }
    return rc;
}

int resize_job_before(struct job *job, struct cb_error *err)
{
    struct resize_state *st = job->resize;
    for (size_t i = 0; st && i < st->nscratch; i++) {
        int rc = shrink_in_scratch(job, &st->scratch[i], err);
        if (rc)
            return rc;
    }
    if (st)
        for (size_t i = 0; i < job->ntargets; i++)
            job->ctargets[i].dev.remap = &st->plan.targets[i].remap;
    return 0;
}

/* The shrunk filesystem's used blocks, from its scratch file to every target. */
static int copy_scratch(struct job *job, struct scratch *sc, struct cb_error *err)
{
    struct resize_state *st = job->resize;
    const struct layout_part *p = &st->layout.parts[sc->part];
    struct io_dev src;
    int rc = io_open_source(sc->path, &src, err);
    if (rc)
        return rc;
    struct block_map dom;
    char why[300] = "";
    rc = map_init(&dom, src.size, MAP_NONTRIED) ? -ENOMEM : 0;
    /* ntfsresize leaves the volume marked for a check at Windows' next start, on
     * purpose: its bitmap is still the one it just wrote, so it is read as is. */
    if (!rc && fs_used_mark_resized(sc->path, 0, src.size, p->fstype, &dom, why, sizeof(why)) <= 0)
        rc = cb_error_set(err, -EINVAL, "the shrunk filesystem in %s cannot be read: %s", sc->path, why);
    /* One read of the scratch file for every target, each at its own place. */
    struct io_extent ext[JOB_MAX_TARGETS];
    struct io_remap remap[JOB_MAX_TARGETS];
    struct engine_target live[JOB_MAX_TARGETS];
    size_t n = 0, idx[JOB_MAX_TARGETS];
    for (size_t i = 0; !rc && i < job->ntargets; i++)
        if (!atomic_load(&job->ctargets[i].failed)) {
            ext[n] = (struct io_extent){ .src = 0, .len = sc->size, .dst = st->plan.targets[i].l.parts[sc->part].new_start };
            remap[n] = (struct io_remap){ .ext = &ext[n], .n = 1 };
            live[n] = (struct engine_target){ .dev = job->ctargets[i].dev };
            live[n].dev.remap = &remap[n];
            idx[n++] = i;
        }
    if (!rc && n)
        rc = run_engine(job, &src, live, n, &dom, sc->digest, err);
    for (size_t k = 0; k < n; k++)
        if (atomic_load(&live[k].failed) || live[k].verified > VERIFY_EQUAL)
            atomic_store(&job->ctargets[idx[k]].failed, 1);
    if (!rc && fs_ops_find(p->fstype)->resize_marks_dirty)
        job_note(job, "partition #%d (ntfs): ntfsresize marked it for a check, so Windows runs chkdsk once "
                       "at its first start", p->number);
    if (!rc)
        job_note(job, "partition #%d (%s) shrunk to %llu bytes in a scratch file (%s), its used "
                       "blocks copied%s: %s %s", p->number, p->fstype,
                       (unsigned long long)sc->size, fs_ops_find(p->fstype)->resizer,
                       job->verify ? " and verified" : " (--no-verify: not read back)", hash_name(job->engine.verify_alg), sc->digest);
    map_free(&dom);
    io_close(&src);
    return rc;
}

int resize_job_after(struct job *job, struct cb_error *err)
{
    struct resize_state *st = job->resize;
    int rc = 0;
    for (size_t i = 0; !rc && i < job->ntargets; i++) {
        struct engine_target *t = &job->ctargets[i];
        t->dev.remap = NULL;
        if (!atomic_load(&t->failed))
            rc = layout_write(&st->plan.targets[i].l, &t->dev, err);
        if (!rc && io_flush(&t->dev) != 0)
            rc = cb_error_set(err, -EIO, "cannot flush %s", t->dev.path);
    }
    for (size_t k = 0; !rc && k < st->nscratch; k++)
        rc = copy_scratch(job, &st->scratch[k], err);
    for (size_t i = 0; !rc && i < job->ntargets; i++) {
        struct engine_target *t = &job->ctargets[i];
        const struct layout *l = &st->plan.targets[i].l;
        if (atomic_load(&t->failed))
            continue;
        char nodes[LAYOUT_MAX_PARTS][64], note[300];
        rc = layout_kernel_sync(l, &t->dev, nodes, note, sizeof(note));
        if (note[0])
            job_note(job, "%s", note);
        if (rc)
            rc = cb_error_set(err, rc, "the new partitions of %s could not be made known to the kernel: %s (is one "
                              "of its old partitions still open?)", t->dev.path, strerror(-rc));
        /* The tools open the partitions exclusively: let go of the disk first. */
        io_close(&t->dev);
        for (size_t k = 0; !rc && k < l->nparts; k++) {
            const struct layout_part *p = &l->parts[k];
            uint64_t copied = p->size;      /* what the filesystem's size is on the target now */
            for (size_t s = 0; s < st->nscratch; s++)
                if (st->scratch[s].part == k)
                    copied = st->scratch[s].size;
            if (p->extended || p->new_size == copied || p->fit == FIT_FIXED)
                continue;
            if (!nodes[k][0])
                rc = cb_error_set(err, -ENOENT, "partition #%d of %s has no device node to resize its %s in",
                                  p->number, t->dev.path, p->fstype);
            else
                rc = fs_resize_run(nodes[k], p->fstype, p->new_size, st->uuid[k], st->label[k], job->tool_log,
                                   sizeof(job->tool_log), err);
        }
    }
    return rc;
}

void resize_job_free(struct job *job)
{
    struct resize_state *st = job->resize;
    if (!st)
        return;
    for (size_t i = 0; i < st->nscratch; i++)
        safe_file_scratch_remove(st->scratch[i].dir, st->scratch[i].path);
    if (st->view.fd >= 0)
        close(st->view.fd);
    resize_plan_free(&st->plan);
    layout_free(&st->layout);
    free(st);
    job->resize = NULL;
}

void resize_job_describe_target(const struct job *job, size_t t, char *buf, size_t len)
{
    const struct resize_state *st = job->resize;
    const struct layout *l = &st->plan.targets[t].l;
    size_t n = (size_t)snprintf(buf, len, "%s%s%spartitions fitted to %llu bytes (%s):",
                                job->ntargets > 1 ? "target " : "", job->ntargets > 1 ? job->targets[t].path : "",
                                job->ntargets > 1 ? ": " : "", (unsigned long long)l->new_disk_size,
                                layout_kind_name(l->kind));
    for (size_t i = 0; i < l->nparts && n < len; i++) {
        const struct layout_part *p = &l->parts[i];
        char a[32], b[32];
        units_format_bytes(p->size, a, sizeof(a));
        units_format_bytes(p->new_size, b, sizeof(b));
        n += (size_t)snprintf(buf + n, len - n, " #%d %s %s%s%s;", p->number,
                              p->extended ? "extended" : p->fstype[0] ? p->fstype : "?", a,
                              p->new_size == p->size ? "" : " -> ", p->new_size == p->size ? "" : b);
    }
}
