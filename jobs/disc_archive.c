#include "jobs/disc_archive.h"

#include "clone/hash.h"
#include "jobs/store.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/cdrom.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct archive_drive *find(struct disc_archive *a, const char *path)
{
    for (size_t i = 0; i < a->count; i++)
        if (!strcmp(a->drives[i].path, path))
            return &a->drives[i];
    return NULL;
}

const struct archive_drive *archive_find(const struct disc_archive *a, const char *path)
{
    return find((struct disc_archive *)a, path);
}

bool archive_toggle(struct disc_archive *a, const char *path)
{
    struct archive_drive *d = find(a, path);
    if (d) {
        if (d->job_id)
            return true;                /* a disc is being archived: it finishes first */
        *d = a->drives[--a->count];
        return false;
    }
    if (a->count == ARCHIVE_DRIVES)
        return false;
    d = &a->drives[a->count++];
    memset(d, 0, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "%s", path);
    return true;
}

static void note(struct disc_archive *a, const char *fmt, const char *x, const char *y, const char *z)
{
    snprintf(a->list[a->nlist % ARCHIVE_LIST], sizeof(a->list[0]), fmt, x, y, z);
    a->nlist++;
}

void archive_file_name(const char *folder, const char *label, time_t when, char *out, size_t len)
{
    char name[64], day[16];
    if (!store_safe_name(label, name, sizeof(name)) || name[0] == '.')
        snprintf(name, sizeof(name), "disc");
    struct tm tm;
    localtime_r(&when, &tm);
    strftime(day, sizeof(day), "%Y%m%d", &tm);
    struct stat st;
    for (int n = 1; n < 1000; n++) {
        if (n == 1)
            snprintf(out, len, "%s/%s-%s.iso", folder, name, day);
        else
            snprintf(out, len, "%s/%s-%s-%d.iso", folder, name, day, n);
        /* .partial too: a backup of that name may be being written right now */
        char partial[4200];
        snprintf(partial, sizeof(partial), "%s.partial", out);
        if (stat(out, &st) != 0 && stat(partial, &st) != 0)
            return;
    }
}

/* Open the tray: the technician sees at once that the disc is done. */
static void eject(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    ioctl(fd, CDROM_LOCKDOOR, 0);
    ioctl(fd, CDROMEJECT, 0);
    close(fd);
}

/* The disc's job ended (or was cleared away): note it, eject, wait for the next disc. */
static void finish_disc(struct disc_archive *a, struct archive_drive *d, struct job_queue *q)
{
    struct qjob *j = jq_find(q, d->job_id);
    if (j && (j->state == QJOB_QUEUED || j->state == QJOB_RUNNING))
        return;
    bool ok = j && j->state == QJOB_DONE;
    if (j)
        note(a, "%s -> %s: %s", d->path, j->targets[0], j->verdict);
    else
        note(a, "%s: %s%s", d->path, "the job was cleared before it was noted", "");
    if (ok)
        d->archived++;
    else
        d->failed++;
    d->job_id = 0;
    d->disc_seen = true;
    eject(d->path);
    if (j && q->count > JQ_MAX_JOBS / 2)
        jq_forget(q, j->id);    /* a stack of discs must not fill the queue; the list keeps it */
}

static void start_disc(struct disc_archive *a, struct archive_drive *d, const struct dev_drive *dev,
                       struct job_queue *q, const char *folder)
{
    d->disc_seen = true;            /* whatever happens, this disc is handled once */
    if (dev->optical.audio_tracks && !dev->optical.data_tracks) {
        note(a, "%s: an audio CD (%s): not supported for ISO, ejected%s", d->path,
             dev->optical.media_type[0] ? dev->optical.media_type : "cd", "");
        d->failed++;
        eject(d->path);
        return;
    }
    if (dev->optical.blank) {
        note(a, "%s: a blank disc, ejected%s%s", d->path, "", "");
        eject(d->path);
        return;
    }
    char file[4200];
    archive_file_name(folder, dev->label, time(NULL), file, sizeof(file));
    const char *targets[1] = { file };
    struct job_request req = {
        .kind = JOB_IMAGE, .source = dev->path, .targets = targets, .ntargets = 1,
        .hash_mask = 1u << HASH_SHA256 | 1u << HASH_MD5, .verify = true,
        .retries = 3,               /* scratched discs: more passes, the drive is slow anyway */
        .optical = true, .raw = true,
    };
    struct cb_error err = { 0 };
    int id = jq_submit(q, &req, &err);
    if (id < 0) {
        note(a, "%s: not archived: %s%s", d->path, err.msg, "");
        d->failed++;
        return;
    }
    d->job_id = id;
    note(a, "%s: '%s' -> %s", d->path, dev->label[0] ? dev->label : "(no label)", file);
}

bool archive_tick(struct disc_archive *a, struct dev_list *devs, struct job_queue *q, const char *folder)
{
    size_t before = a->nlist;
    for (size_t i = 0; i < a->count; i++) {
        struct archive_drive *d = &a->drives[i];
        if (d->job_id) {
            finish_disc(a, d, q);
            continue;
        }
        const struct dev_drive *dev = dev_list_find(devs, d->path);
        bool disc = dev && dev->optical.media && dev->size > 0;
        if (!disc)
            d->disc_seen = false;   /* tray empty: the next disc is a new one */
        else if (!d->disc_seen)
            start_disc(a, d, dev, q, folder);
    }
    return a->nlist != before;
}
