#include "devices/dev_partitions.h"
#include "devices/dev_props.h"

#include <blkid.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dev_partition_name(const char *disk, int number, char *buf, size_t len)
{
    size_t n = strlen(disk);
    bool digit_end = n && isdigit((unsigned char)disk[n - 1]);
    snprintf(buf, len, "%s%s%d", disk, digit_end ? "p" : "", number);
}

static int add_partition(struct dev_drive *d, const struct dev_partition *p)
{
    struct dev_partition *np = realloc(d->parts, (d->npart + 1) * sizeof(*np));
    if (!np)
        return -ENOMEM;
    d->parts = np;
    d->parts[d->npart++] = *p;
    return 0;
}

static void copy_prop(const struct dev_props *props, const char *key, char *buf, size_t len)
{
    char enc[64];
    snprintf(enc, sizeof(enc), "%s_ENC", key);
    const char *v = dev_props_get(props, enc);
    if (v) {
        dev_props_decode(v, buf, len);
        return;
    }
    v = dev_props_get(props, key);
    snprintf(buf, len, "%s", v ? v : "");
}

static void load_db_props(const struct sysfs_ctx *ctx, const char *sysrel, struct dev_props *props)
{
    char dev[32], path[512];
    if (sysfs_read_str(ctx, dev, sizeof(dev), "%s/dev", sysrel) == 0 &&
        sysfs_path(ctx, path, sizeof(path), "run/udev/data/b%s", dev) == 0)
        dev_props_load_db(props, path);
}

/* The kernel's view: sys/block/NAME/NAMEpN/{partition,start,size}. */
static int fill_from_sysfs(const struct sysfs_ctx *ctx, struct dev_drive *d)
{
    char dir[512];
    sysfs_path(ctx, dir, sizeof(dir), "sys/block/%s", d->name);
    DIR *dh = opendir(dir);
    if (!dh)
        return -errno;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(dh))) {
        uint64_t num, start, size;
        if (e->d_name[0] == '.' ||
            sysfs_read_u64(ctx, &num, "sys/block/%s/%s/partition", d->name, e->d_name) ||
            sysfs_read_u64(ctx, &start, "sys/block/%s/%s/start", d->name, e->d_name) ||
            sysfs_read_u64(ctx, &size, "sys/block/%s/%s/size", d->name, e->d_name))
            continue;
        struct dev_partition p = { .number = (int)num, .start = start * 512, .size = size * 512 };
        snprintf(p.name, sizeof(p.name), "%s", e->d_name);
        snprintf(p.path, sizeof(p.path), "/dev/%s", e->d_name);
        struct dev_props props;
        dev_props_init(&props);
        char rel[300];
        snprintf(rel, sizeof(rel), "sys/block/%s/%s", d->name, e->d_name);
        load_db_props(ctx, rel, &props);
        copy_prop(&props, "ID_FS_TYPE", p.fstype, sizeof(p.fstype));
        copy_prop(&props, "ID_FS_LABEL", p.label, sizeof(p.label));
        copy_prop(&props, "ID_FS_UUID", p.uuid, sizeof(p.uuid));
        copy_prop(&props, "ID_PART_ENTRY_TYPE", p.type, sizeof(p.type));
        dev_props_free(&props);
        rc = add_partition(d, &p);
    }
    closedir(dh);
    /* readdir order is arbitrary: keep partitions in table order. */
    for (size_t i = 1; i < d->npart; i++)
        for (size_t j = i; j > 0 && d->parts[j - 1].number > d->parts[j].number; j--) {
            struct dev_partition t = d->parts[j];
            d->parts[j] = d->parts[j - 1];
            d->parts[j - 1] = t;
        }
    return rc;
}

static void lookup(blkid_probe pr, const char *key, char *buf, size_t len)
{
    const char *v = NULL;
    if (blkid_probe_lookup_value(pr, key, &v, NULL) == 0 && v)
        snprintf(buf, len, "%s", v);
}

/* Which filesystem lives at [off, off+size) of fd; quietly nothing if none. */
void dev_probe_fs(int fd, uint64_t off, uint64_t size, char *type, size_t tlen,
                     char *label, size_t llen, char *uuid, size_t ulen)
{
    blkid_probe pr = blkid_new_probe();
    if (!pr)
        return;
    if (blkid_probe_set_device(pr, fd, (blkid_loff_t)off, (blkid_loff_t)size) == 0) {
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID);
        if (blkid_do_safeprobe(pr) == 0) {
            lookup(pr, "TYPE", type, tlen);
            lookup(pr, "LABEL", label, llen);
            if (uuid)
                lookup(pr, "UUID", uuid, ulen);
        }
    }
    blkid_free_probe(pr);
}

/* The media's view, read with libblkid. */
static int fill_from_media(const struct sysfs_ctx *ctx, struct dev_drive *d)
{
    int fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    blkid_probe pr = blkid_new_probe();
    if (!pr || blkid_probe_set_device(pr, fd, 0, 0) != 0) {
        if (pr)
            blkid_free_probe(pr);
        close(fd);
        return -EIO;
    }
    blkid_probe_enable_superblocks(pr, 0);
    blkid_probe_enable_partitions(pr, 1);
    blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
    int rc = 0;
    blkid_partlist ls = NULL;
    if (blkid_do_safeprobe(pr) == 0) {
        lookup(pr, "PTTYPE", d->pttype, sizeof(d->pttype));
        ls = blkid_probe_get_partitions(pr);
    }
    int n = ls ? blkid_partlist_numof_partitions(ls) : 0;
    for (int i = 0; i < n && !rc; i++) {
        blkid_partition par = blkid_partlist_get_partition(ls, i);
        struct dev_partition p = {
            .number = blkid_partition_get_partno(par),
            .start = (uint64_t)blkid_partition_get_start(par) * 512,
            .size = (uint64_t)blkid_partition_get_size(par) * 512,
        };
        const char *type = blkid_partition_get_type_string(par);
        if (type)
            snprintf(p.type, sizeof(p.type), "%s", type);
        else
            snprintf(p.type, sizeof(p.type), "0x%02x", (unsigned)blkid_partition_get_type(par));
        char kname[32];
        dev_partition_name(d->name, p.number, kname, sizeof(kname));
        if (sysfs_exists(ctx, "sys/block/%s/%s", d->name, kname)) {
            snprintf(p.name, sizeof(p.name), "%s", kname);
            snprintf(p.path, sizeof(p.path), "/dev/%s", kname);
        }
        if (p.size)     /* an extended partition's container has no filesystem */
            dev_probe_fs(fd, p.start, p.size, p.fstype, sizeof(p.fstype), p.label, sizeof(p.label),
                     p.uuid, sizeof(p.uuid));
        rc = add_partition(d, &p);
    }
    blkid_free_probe(pr);
    dev_probe_fs(fd, 0, 0, d->fstype, sizeof(d->fstype), d->label, sizeof(d->label), NULL, 0);
    close(fd);
    return rc;
}

int dev_partitions_fill(const struct sysfs_ctx *ctx, struct dev_drive *d)
{
    if (sysfs_is_live(ctx) && d->size > 0 && fill_from_media(ctx, d) == 0)
        return 0;
    free(d->parts);
    d->parts = NULL;
    d->npart = 0;
    struct dev_props props;
    dev_props_init(&props);
    char rel[300];
    snprintf(rel, sizeof(rel), "sys/block/%s", d->name);
    load_db_props(ctx, rel, &props);
    copy_prop(&props, "ID_PART_TABLE_TYPE", d->pttype, sizeof(d->pttype));
    copy_prop(&props, "ID_FS_TYPE", d->fstype, sizeof(d->fstype));
    copy_prop(&props, "ID_FS_LABEL", d->label, sizeof(d->label));
    dev_props_free(&props);
    int rc = fill_from_sysfs(ctx, d);
    return rc == -ENOENT ? 0 : rc;
}
