#include "jobs/damage.h"
#include "clone/layout.h"

#include <errno.h>
#include <stdlib.h>

void job_find_damaged(struct clone_job *job)
{
    if (!map_bytes(&job->map, MAP_BAD))
        return;
    /* Fitted partitions sit elsewhere on the target than the map's offsets say. */
    if (job->resize) {
        clone_job_note(job, "the damaged files are not listed: the partitions were fitted to the target, so the "
                       "bad ranges no longer fall where the source had them");
        return;
    }
    struct copy_target *t = NULL;
    for (size_t i = 0; i < job->ntargets && !t; i++)
        if (!atomic_load(&job->ctargets[i].failed) && job->ctargets[i].dev.fd >= 0)
            t = &job->ctargets[i];
    if (!t) {
        clone_job_note(job, "the damaged files are not listed: no target holds a complete copy to look them up in");
        return;
    }
    struct layout *l = calloc(1, sizeof(*l));
    struct fs_owner_part *parts = calloc(LAYOUT_MAX_PARTS, sizeof(*parts));
    struct cb_error err = { 0 };
    size_t n = 0;
    if (!l || !parts) {
        clone_job_note(job, "the damaged files are not listed: out of memory");
        goto out;
    }
    /* The copy's own table: a damaged one reads as none, and the whole disk is tried as one filesystem. */
    /* A target is open for writing only: its table is read through a reader of its own. */
    struct io_dev rd;
    int rc = io_open_verify(t->dev.path, &rd, &err);
    if (!rc) {
        rc = layout_read(l, layout_read_io, &rd, t->dev.path, rd.size, rd.sector, &err);
        io_close(&rd);
    }
    if (rc == 0) {
        for (size_t i = 0; i < l->nparts; i++)
            if (!l->parts[i].extended)
                parts[n++] = (struct fs_owner_part){ l->parts[i].number, l->parts[i].start, l->parts[i].size };
    } else {
        clone_job_note(job, "the partition table of the copy on %s cannot be read (%s): the disk was looked "
                       "up as one filesystem", t->dev.path, err.msg);
    }
    if (fs_owners_find(t->dev.path, parts, n, &job->map, &job->damaged))
        clone_job_note(job, "the list of damaged files is incomplete: out of memory");
out:
    if (l)
        layout_free(l);
    free(l);
    free(parts);
}
