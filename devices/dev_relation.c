#include "devices/dev_relation.h"
#include "devices/dev_safety.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static bool read_devnum(const struct sysfs_ctx *ctx, const char *rel, dev_t *out)
{
    char buf[32];
    unsigned ma, mi;
    if (sysfs_read_str(ctx, buf, sizeof(buf), "%s/dev", rel) || sscanf(buf, "%u:%u", &ma, &mi) != 2)
        return false;
    *out = makedev(ma, mi);
    return true;
}

void dev_name_of(const struct sysfs_ctx *ctx, dev_t dev, char *buf, size_t len)
{
    char path[PATH_MAX], real[PATH_MAX];
    buf[0] = '\0';
    if (sysfs_path(ctx, path, sizeof(path), "sys/dev/block/%u:%u", major(dev), minor(dev)) || !realpath(path, real))
        return;
    const char *slash = strrchr(real, '/');
    snprintf(buf, len, "%s", slash ? slash + 1 : real);
}

dev_t dev_whole_disk(const struct sysfs_ctx *ctx, dev_t dev)
{
    char rel[64];
    snprintf(rel, sizeof(rel), "sys/dev/block/%u:%u", major(dev), minor(dev));
    if (!sysfs_exists(ctx, "%s/partition", rel))
        return dev;
    char path[PATH_MAX], real[PATH_MAX];
    sysfs_path(ctx, path, sizeof(path), "%s/..", rel);
    dev_t parent;
    if (realpath(path, real) && read_devnum(ctx, real + strlen(ctx->root), &parent))
        return parent;
    return dev;
}

/* Whether `want` is `dev` or lives on it: its partitions and, recursively,
 * their holders. */
static bool walk_stack(const struct sysfs_ctx *ctx, dev_t dev, dev_t want, int depth)
{
    if (dev == want)
        return true;
    if (depth > 8)
        return false;
    char name[64];
    dev_name_of(ctx, dev, name, sizeof(name));
    if (!name[0])
        return false;
    char path[PATH_MAX];
    /* Partitions of a disk: children with a "partition" file. */
    sysfs_path(ctx, path, sizeof(path), "sys/class/block/%s", name);
    DIR *dh = opendir(path);
    if (dh) {
        struct dirent *e;
        bool hit = false;
        while (!hit && (e = readdir(dh))) {
            char rel[PATH_MAX];
            dev_t child;
            snprintf(rel, sizeof(rel), "sys/class/block/%s/%s", name, e->d_name);
            if (e->d_name[0] != '.' && sysfs_exists(ctx, "%s/partition", rel) && read_devnum(ctx, rel, &child))
                hit = walk_stack(ctx, child, want, depth + 1);
        }
        closedir(dh);
        if (hit)
            return true;
    }
    /* Whatever is stacked on it (LVM, md, dm-crypt). */
    sysfs_path(ctx, path, sizeof(path), "sys/class/block/%s/holders", name);
    dh = opendir(path);
    if (!dh)
        return false;
    struct dirent *e;
    bool hit = false;
    while (!hit && (e = readdir(dh))) {
        char rel[PATH_MAX];
        dev_t h;
        snprintf(rel, sizeof(rel), "sys/class/block/%s", e->d_name);
        if (e->d_name[0] != '.' && read_devnum(ctx, rel, &h))
            hit = walk_stack(ctx, h, want, depth + 1);
    }
    closedir(dh);
    return hit;
}

/* A loop device's backing file: its inode and the device of its filesystem. */
static bool loop_backing(const struct sysfs_ctx *ctx, dev_t loop, struct stat *st)
{
    char name[64], file[PATH_MAX];
    dev_name_of(ctx, loop, name, sizeof(name));
    if (strncmp(name, "loop", 4) != 0 ||
        sysfs_read_str(ctx, file, sizeof(file), "sys/class/block/%s/loop/backing_file", name))
        return false;
    return sysfs_is_live(ctx) && stat(file, st) == 0;
}

bool dev_overlap(const struct sysfs_ctx *ctx, dev_t a, dev_t b)
{
    /* A disk's walk covers its partitions, so disk/partition pairs are found
     * from the disk side; two partitions of one disk do not overlap. */
    if (walk_stack(ctx, a, b, 0) || walk_stack(ctx, b, a, 0))
        return true;
    struct stat fa, fb;
    bool la = loop_backing(ctx, a, &fa), lb = loop_backing(ctx, b, &fb);
    /* Two loops share sectors only through the same backing file. */
    if (la && lb)
        return fa.st_dev == fb.st_dev && fa.st_ino == fb.st_ino;
    /* A raw device holding the filesystem a loop's file lives on. */
    if (la && walk_stack(ctx, b, fa.st_dev, 0))
        return true;
    if (lb && walk_stack(ctx, a, fb.st_dev, 0))
        return true;
    return false;
}

bool dev_file_at_risk(const struct sysfs_ctx *ctx, dev_t target, dev_t file_dev, ino_t file_ino)
{
    /* The device under the file's filesystem, or anything holding it. */
    if (walk_stack(ctx, target, file_dev, 0))
        return true;
    /* A loop device writes its own backing file, and nothing else. */
    struct stat b;
    return loop_backing(ctx, target, &b) && b.st_dev == file_dev && b.st_ino == file_ino;
}

/* Whether mount point t holds path p (both absolute, no trailing slash but "/"). */
static bool under(const char *p, const char *t)
{
    size_t n = strlen(t);
    return !strcmp(t, "/") || (!strncmp(p, t, n) && (p[n] == '\0' || p[n] == '/'));
}

int dev_mount_source_of(const struct sysfs_ctx *ctx, const char *path, dev_t *out)
{
    char real[PATH_MAX], mi[PATH_MAX];
    if (!realpath(path, real))
        return -errno;
    sysfs_path(ctx, mi, sizeof(mi), "proc/self/mountinfo");
    FILE *f = fopen(mi, "re");
    if (!f)
        return -errno;
    /* The deepest mount above path, by path as findmnt --target does: btrfs
     * gives each subvolume a device number that mountinfo does not list. A
     * later line with the same mount point is mounted over the earlier one. */
    char line[2048], source[256] = "";
    size_t best = 0;
    struct dev_mount m;
    while (fgets(line, sizeof(line), f)) {
        if (dev_mountinfo_parse_line(line, &m) || !under(real, m.target))
            continue;
        size_t n = strlen(m.target) + 1;
        if (n >= best) {
            best = n;
            snprintf(source, sizeof(source), "%s", m.source);
        }
    }
    fclose(f);
    struct stat dev;
    if (source[0] != '/' || stat(source, &dev) != 0 || !S_ISBLK(dev.st_mode))
        return -ENOENT;
    *out = dev.st_rdev;
    return 0;
}
