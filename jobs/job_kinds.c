#include "jobs/job_kinds.h"
#include "jobs/image_job.h"
#include "clone/http_range.h"

#include <errno.h>
#include <sys/stat.h>

/* One master onto drives and into an image at once: a clone target named
 * FILE.zst that is not a block device. */
static int clone_image_target(const struct job_request *req, struct cb_error *err)
{
    int found = -1;
    for (size_t i = 0; i < req->ntargets; i++) {
        struct stat st;
        if (!image_job_zst_name(req->targets[i]) || (stat(req->targets[i], &st) == 0 && S_ISBLK(st.st_mode)))
            continue;
        if (found >= 0)
            return cb_error_set(err, -EINVAL, "%s and %s: one image per job", req->targets[found], req->targets[i]);
        found = (int)i;
    }
    return found;
}

static int image_image_target(const struct job_request *req, struct cb_error *err)
{
    (void)req, (void)err;
    return 0;
}

/* An .iso (or .iso.zst) holds a disc's ISO 9660 volume. */
static void image_name_request(struct job_request *req)
{
    if (req->ntargets && image_job_iso_name(req->targets[0]))
        req->optical = true;
}

/* A raw image (.img, .iso) restores like any file: it is a clone of it
 * (not over HTTP: restore_check_source says why). */
static void restore_name_request(struct job_request *req)
{
    if (image_job_raw_name(req->source) && !http_range_is_url(req->source))
        req->kind = JOB_CLONE;
}

static int restore_check_source(struct job *job, const struct job_request *req, bool is_block, bool light,
                                struct cb_error *err)
{
    if (is_block)
        return cb_error_set(err, -EINVAL, "%s is a drive, not an image file: to copy a drive, use 'clonebay clone'",
                            req->source);
    if (http_range_is_url(req->source) && image_job_raw_name(req->source))
        return cb_error_set(err, -EINVAL, "%s: a raw image is not restored over HTTP (nothing in it vouches for what "
                            "arrives); serve a clonebay image (.zst)", req->source);
    if (light)
        return 0;
    return req->stream ? image_job_open_stream(job, req->stream, err) : image_job_open_source(job, req->source, err);
}

static const struct job_kind_ops kinds[] = {
    [JOB_CLONE] = { .kind = JOB_CLONE, .name = "clone", .image_target = clone_image_target },
    [JOB_IMAGE] = { .kind = JOB_IMAGE, .name = "image", .makes_image = true, .name_request = image_name_request,
                    .image_target = image_image_target },
    [JOB_RESTORE] = { .kind = JOB_RESTORE, .name = "restore", .reads_image = true,
                      .name_request = restore_name_request, .check_source = restore_check_source },
};

const struct job_kind_ops *job_kind_ops(enum job_kind kind)
{
    return (unsigned)kind < sizeof(kinds) / sizeof(kinds[0]) ? &kinds[kind] : &kinds[JOB_CLONE];
}

const char *job_kind_name(enum job_kind kind)
{
    return job_kind_ops(kind)->name;
}
