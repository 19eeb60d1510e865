#include "jobs/damage.h"
#include "clone/image_sink.h"
#include "clone/layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* The partitions of the copy, from its own table, and what the bad ranges of
 * map hit in them. A table that cannot be read leaves the disk to be looked
 * up whole (note says so). path: read a drive through an ordinary
 * descriptor, as the filesystem readers ask for any length anywhere. */
static int look_up(const struct block_map *map, layout_read_fn rd, void *ctx, const char *name, uint64_t size,
                   unsigned sector, const char *path, struct fs_owner_list *out, char *note, size_t note_len)
{
    struct layout *l = calloc(1, sizeof(*l));
    struct fs_owner_part *parts = calloc(LAYOUT_MAX_PARTS, sizeof(*parts));
    struct cb_error err = { 0 };
    size_t n = 0;
    int rc = -ENOMEM;
    if (l && parts) {
        if (layout_read(l, rd, ctx, name, size, sector, &err) == 0) {
            for (size_t i = 0; i < l->nparts; i++)
                if (!l->parts[i].extended)
                    parts[n++] = (struct fs_owner_part){ l->parts[i].number, l->parts[i].start, l->parts[i].size };
        } else {
            snprintf(note, note_len, "the partition table of the copy in %s cannot be read (%s): the disk was "
                     "looked up as one filesystem", name, err.msg);
        }
        rc = path ? fs_owners_find(path, parts, n, map, out) : fs_owners_find_fn(rd, ctx, name, parts, n, map, out);
    }
    if (rc)
        snprintf(note, note_len, "the list of damaged files is incomplete: out of memory");
    if (l)
        layout_free(l);
    free(l);
    free(parts);
    return rc;
}

int damage_find_in_image(struct image *img, struct fs_owner_list *out, char *note, size_t note_len)
{
    note[0] = '\0';
    *out = (struct fs_owner_list){ 0 };
    if (!img->meta.nbad)
        return 0;
    struct block_map map;
    int rc = map_init(&map, img->meta.size, MAP_FINISHED);
    for (size_t i = 0; !rc && i < img->meta.nbad; i++)
        rc = map_mark(&map, img->meta.bad[i].off, img->meta.bad[i].len, MAP_BAD);
    if (!rc)
        rc = look_up(&map, image_read_fn, img, img->pf.path, img->meta.size, img->meta.sector, NULL, out, note,
                     note_len);
    else
        snprintf(note, note_len, "the damaged files are not listed: out of memory");
    map_free(&map);
    return rc;
}

/* A compressed image: read back, decoded as the lookup goes. */
static void look_up_image(struct job *job)
{
    struct image *img = calloc(1, sizeof(*img));
    struct cb_error err = { 0 };
    char note[600] = "";
    /* Before it is renamed (the job is not over yet), the image is FILE.partial. */
    const char *name = job->sink ? image_sink_partial_name(job->sink) : job->image_final;
    if (!img || image_open(img, name, &err)) {
        job_note(job, "the damaged files are not listed: the image %s cannot be read back (%s)",
                       job->image_final, img ? err.msg : "out of memory");
        free(img);
        return;
    }
    look_up(&job->map, image_read_fn, img, job->image_final, img->meta.size, img->meta.sector, NULL, &job->damaged,
            note, sizeof(note));
    if (note[0])
        job_note(job, "%s", note);
    image_close(img);
    free(img);
}

void job_find_damaged(struct job *job)
{
    if (!map_bytes(&job->map, MAP_BAD))
        return;
    /* Fitted partitions sit elsewhere on the target than the map's offsets say. */
    if (job->resize) {
        job_note(job, "the damaged files are not listed: the partitions were fitted to the target, so the "
                       "bad ranges no longer fall where the source had them");
        return;
    }
    if (job->ops->makes_image && !job->raw) {
        look_up_image(job);
        return;
    }
    struct engine_target *t = NULL;
    for (size_t i = 0; i < job->ntargets && !t; i++)
        if (!atomic_load(&job->ctargets[i].failed) && job->ctargets[i].dev.fd >= 0)
            t = &job->ctargets[i];
    if (!t) {
        job_note(job, "the damaged files are not listed: no target holds a complete copy to look them up in");
        return;
    }
    /* A target is open for writing only: its table is read through a reader of its own. */
    struct io_dev rd;
    struct cb_error err = { 0 };
    char note[600] = "";
    if (io_open_verify(t->dev.path, &rd, &err)) {
        job_note(job, "the damaged files are not listed: %s", err.msg);
        return;
    }
    look_up(&job->map, layout_read_io, &rd, t->dev.path, rd.size, rd.sector, t->dev.path, &job->damaged, note,
            sizeof(note));
    io_close(&rd);
    if (note[0])
        job_note(job, "%s", note);
}
