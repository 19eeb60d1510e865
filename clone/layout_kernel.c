/* layout_kernel: tell the kernel about a table just written, and find the
 * device node of each partition for the filesystem tools. */
#include "clone/io.h"
#include "clone/layout.h"
#include "devices/dev_partitions.h"
#include "devices/dev_relation.h"
#include "devices/sysfs.h"

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

/* /dev/NAME of the partition p->number of the disk rdev as the kernel has it;
 * "" when it has none. *stale is set when it has that number with another
 * geometry than the plan's. */
static void find_node(dev_t rdev, const struct layout_part *p, char *node, size_t len, bool *stale)
{
    struct sysfs_ctx ctx;
    sysfs_init(&ctx, NULL);
    char disk[64], name[96], path[128];
    uint64_t start, size;
    node[0] = '\0';
    *stale = false;
    dev_name_of(&ctx, rdev, disk, sizeof(disk));
    dev_partition_name(disk, p->number, name, sizeof(name));
    if (!disk[0] || sysfs_read_u64(&ctx, &start, "sys/block/%s/%s/start", disk, name) ||
        sysfs_read_u64(&ctx, &size, "sys/block/%s/%s/size", disk, name))
        return;
    if (start * 512 != p->new_start || size * 512 != p->new_size) {
        *stale = true;
        return;
    }
    struct stat st;
    snprintf(path, sizeof(path), "/dev/%s", name);
    if (stat(path, &st) == 0 && S_ISBLK(st.st_mode))
        snprintf(node, len, "%s", path);
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
