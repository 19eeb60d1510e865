#include "jobs/job.h"
#include "clone/image_read.h"
#include "clone/image_stream.h"
#include "common/units.h"
#include "devices/dev_safety.h"
#include "devices/dev_scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

void job_note(struct job *job, const char *fmt, ...)
{
    if (job->nnotes >= (int)(sizeof(job->notes) / sizeof(job->notes[0])))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->notes[job->nnotes++], sizeof(job->notes[0]), fmt, ap);
    va_end(ap);
}
const char *job_outcome_name(enum job_outcome o)
{
    static const char *const names[] = {
        [OUTCOME_NONE] = "not run", [OUTCOME_VERIFIED] = "copied and verified",
        [OUTCOME_COPIED] = "copied (not verified)",
        [OUTCOME_BAD_SECTORS] = "finished with unreadable sectors",
        [OUTCOME_MISMATCH] = "verification failed", [OUTCOME_FAILED] = "failed",
        [OUTCOME_CANCELLED] = "cancelled", [OUTCOME_REFUSED] = "refused, nothing was written",
    };
    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}
void job_drive_contents(const struct dev_drive *d, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    if (d->pttype[0])
        n += (size_t)snprintf(buf + n, len - n, "%s:", d->pttype);
    else if (d->fstype[0])
        n += (size_t)snprintf(buf + n, len - n, "%s '%s'", d->fstype, d->label);
    for (size_t i = 0; i < d->npart && n < len; i++) {
        char sz[32];
        units_format_bytes(d->parts[i].size, sz, sizeof(sz));
        n += (size_t)snprintf(buf + n, len - n, "%s #%d %s%s%s%s %s", i ? "," : "", d->parts[i].number,
                              d->parts[i].fstype[0] ? d->parts[i].fstype : "unknown",
                              d->parts[i].label[0] ? " '" : "", d->parts[i].label,
                              d->parts[i].label[0] ? "'" : "", sz);
    }
    if (!buf[0])
        snprintf(buf, len, "no partition table or filesystem found");
}
bool job_source_mounted_rw(const struct job *job, uint64_t start, uint64_t size, char *why, size_t len)
{
    struct sysfs_ctx ctx;
    sysfs_init(&ctx, NULL);
    if (!job->src.is_block ||
        dev_mounted_rw(&ctx, major(job->src.rdev), minor(job->src.rdev), start, size, why, len) <= 0)
        return false;
    size_t n = strlen(why);
    snprintf(why + n, len - n, " on this machine, so its block bitmaps can change while it is copied");
    return true;
}

struct engine_source job_source(struct job *job)
{
    if (job->image)
        return image_source(job->image, &job->src);
    if (job->stream)
        return image_stream_source(job->stream, &job->src);
    return engine_source_dev(&job->src);
}

int job_map_snapshot(struct job *job, struct block_map *out)
{
    return map_copy_locked(out, &job->map, &job->map_mu);
}
void job_close_devices(struct job *job)
{
    io_close(&job->src);
    for (size_t i = 0; i < JOB_MAX_TARGETS; i++)
        if (job->ctargets[i].dev.fd >= 0)
            io_close(&job->ctargets[i].dev);
}
