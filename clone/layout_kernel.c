/* layout_kernel: tell the kernel about a table just written, and find the
 * device node of each partition for the filesystem tools. */
#include "clone/io.h"
#include "clone/layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static uint64_t read_u64(const char *dir, const char *name, const char *file)
{
    char path[512], buf[32] = "";
    snprintf(path, sizeof(path), "%s/%s/%s", dir, name, file);
    FILE *f = fopen(path, "re");
    if (!f)
        return UINT64_MAX;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    return buf[0] ? strtoull(buf, NULL, 10) : UINT64_MAX;
}

/* /dev/NAME of partition number of the disk rdev, from sysfs; "" when none.
 * *stale is set when the kernel knows the number with another geometry. */
static void find_node(dev_t rdev, const struct layout_part *p, char *node, size_t len, bool *stale)
{
    int number = p->number;
    *stale = false;
    char dir[128];
    snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(rdev), minor(rdev));
    node[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && !node[0]) {
        char path[512], buf[32] = "";
        snprintf(path, sizeof(path), "%s/%s/partition", dir, e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(buf, sizeof(buf), f) && atoi(buf) == number) {
            struct stat st;
            if (read_u64(dir, e->d_name, "start") * 512 != p->new_start ||
                read_u64(dir, e->d_name, "size") * 512 != p->new_size) {
                *stale = true;
                fclose(f);
                break;
            }
            snprintf(path, sizeof(path), "/dev/%s", e->d_name);
            if (stat(path, &st) == 0 && S_ISBLK(st.st_mode))
                snprintf(node, len, "%s", path);
        }
        fclose(f);
    }
    closedir(d);
}

int layout_source_node(dev_t rdev, const struct layout_part *p, char *node, size_t len)
{
    struct layout_part as_is = *p;
    as_is.new_start = p->start;
    as_is.new_size = p->size;
    bool stale;
    find_node(rdev, &as_is, node, len, &stale);
    return node[0] ? 0 : -ENOENT;
}

static int blkpg(int fd, int op, const struct layout_part *p)
{
    struct blkpg_partition part = { .start = (long long)p->new_start, .length = (long long)p->new_size,
                                    .pno = p->number };
    struct blkpg_ioctl_arg arg = { .op = op, .datalen = sizeof(part), .data = &part };
    return ioctl(fd, BLKPG, &arg) == 0 ? 0 : -errno;
}

int layout_kernel_sync(const struct layout *l, struct io_dev *t, char (*nodes)[64], char *note, size_t note_len)
{
    note[0] = '\0';
    if (!t->is_block)
        return -ENOTBLK;
    /* BLKRRPART: the kernel drops the old partitions and parses the new table. */
    int rr = ioctl(t->fd, BLKRRPART, 0) == 0 ? 0 : -errno;
    bool added = false;
    int rc = 0;
    for (size_t i = 0; i < l->nparts; i++) {
        const struct layout_part *p = &l->parts[i];
        nodes[i][0] = '\0';
        if (p->extended)
            continue;
        bool stale;
        find_node(t->rdev, p, nodes[i], sizeof(nodes[i]), &stale);
        if (nodes[i][0])
            continue;
        /* A kernel without this table's parser (or none at all), or one that
         * kept the old table: set the partitions the way partx does. */
        if (stale)
            blkpg(t->fd, BLKPG_DEL_PARTITION, p);
        int a = blkpg(t->fd, BLKPG_ADD_PARTITION, p);
        if (a && !rc)
            rc = a;
        added = true;
        find_node(t->rdev, p, nodes[i], sizeof(nodes[i]), &stale);
    }
    if (rr)
        snprintf(note, note_len, "the kernel could not re-read the table of %s (%s)%s", t->path, strerror(-rr),
                 added ? "; its partitions were added one by one (BLKPG)" : "");
    else if (added)
        snprintf(note, note_len, "the kernel re-read the table of %s but found no partitions in it (no parser "
                 "for it): they were added one by one (BLKPG)", t->path);
    return rc;
}
