#include "devices/dev_safety.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A device number in use, and why. */
struct use {
    unsigned major, minor;
    int system;             /* 0 no, 1 boot-related, 2 the root filesystem itself */
    bool writer;            /* a process has it open for writing (not a mount) */
    char why[160];
};

struct use_set {
    size_t count, cap;
    struct use *items;
};

static int use_add(struct use_set *s, unsigned major, unsigned minor, int system, const char *why)
{
    if (major == 0)         /* anonymous devices (tmpfs, proc, btrfs subvol) */
        return 0;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct use *n = realloc(s->items, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        s->items = n;
        s->cap = cap;
    }
    struct use *u = &s->items[s->count++];
    u->major = major;
    u->minor = minor;
    u->system = system;
    u->writer = false;
    snprintf(u->why, sizeof(u->why), "%s", why);
    return 0;
}

static void unescape_octal(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

int dev_mountinfo_parse_line(const char *line, struct dev_mount *m)
{
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s", line);
    buf[strcspn(buf, "\n")] = '\0';
    memset(m, 0, sizeof(*m));
    char *save = NULL, *tok;
    int field = 0;
    bool after_dash = false;
    int post = 0;
    for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
        if (after_dash) {
            if (post == 0)
                snprintf(m->fstype, sizeof(m->fstype), "%s", tok);
            else if (post == 1) {
                snprintf(m->source, sizeof(m->source), "%s", tok);
                unescape_octal(m->source);
            } else if (post == 2) {
                /* The superblock's options win over this mount's: a read-only bind
                 * of a filesystem mounted rw elsewhere still changes. */
                m->rw = strncmp(tok, "rw", 2) == 0 && (tok[2] == ',' || tok[2] == '\0');
            }
            post++;
            continue;
        }
        if (field == 5)
            m->rw = strncmp(tok, "rw", 2) == 0 && (tok[2] == ',' || tok[2] == '\0');
        if (field == 2 && sscanf(tok, "%u:%u", &m->major, &m->minor) != 2)
            return -EINVAL;
        if (field == 4) {
            snprintf(m->target, sizeof(m->target), "%s", tok);
            unescape_octal(m->target);
        }
        if (field >= 6 && strcmp(tok, "-") == 0)
            after_dash = true;
    }
    return (after_dash && post >= 2) ? 0 : -EINVAL;
}

/* Where a live system keeps the medium it booted from, besides / and /boot. */
static bool is_system_mountpoint(const char *t)
{
    static const char *const points[] = {
        "/", "/boot", "/boot/efi", "/efi", "/usr", "/run/live/medium", "/lib/live/mount/medium",
        "/cdrom", "/run/initramfs/live", "/run/clonebay/medium",
    };
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++)
        if (strcmp(t, points[i]) == 0)
            return true;
    return false;
}

/* Device number of a /dev path: stat on a live system, sysfs lookup in a saved tree. */
static int devnum_of_path(const struct sysfs_ctx *ctx, const char *path, unsigned *major, unsigned *minor)
{
    if (sysfs_is_live(ctx)) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISBLK(st.st_mode)) {
            *major = major(st.st_rdev);
            *minor = minor(st.st_rdev);
            return 0;
        }
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char dev[32];
    if (sysfs_read_str(ctx, dev, sizeof(dev), "sys/class/block/%s/dev", base) == 0 &&
        sscanf(dev, "%u:%u", major, minor) == 2)
        return 0;
    return -ENOENT;
}

static int collect_mounts(const struct sysfs_ctx *ctx, struct use_set *s)
{
    char path[512];
    sysfs_path(ctx, path, sizeof(path), "proc/self/mountinfo");
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char line[2048];
    int rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        struct dev_mount m;
        if (dev_mountinfo_parse_line(line, &m))
            continue;
        char why[160];
        snprintf(why, sizeof(why), "%s is mounted on %s", m.source, m.target);
        int sys = strcmp(m.target, "/") == 0 ? 2 : is_system_mountpoint(m.target) ? 1 : 0;
        rc = use_add(s, m.major, m.minor, sys, why);
        unsigned ma, mi;
        if (!rc && m.source[0] == '/' && devnum_of_path(ctx, m.source, &ma, &mi) == 0 &&
            (ma != m.major || mi != m.minor))
            rc = use_add(s, ma, mi, sys, why);
    }
    fclose(f);
    return rc;
}

static int collect_swaps(const struct sysfs_ctx *ctx, struct use_set *s)
{
    char path[512];
    sysfs_path(ctx, path, sizeof(path), "proc/swaps");
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char line[1024];
    int rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        char dev[512];
        unsigned ma, mi;
        if (sscanf(line, "%511s", dev) != 1 || dev[0] != '/' || devnum_of_path(ctx, dev, &ma, &mi))
            continue;
        char why[160];
        snprintf(why, sizeof(why), "%.120s is used as swap", dev);
        rc = use_add(s, ma, mi, 0, why);
    }
    fclose(f);
    return rc;
}

/* Block devices other processes hold open for writing (/proc/PID/fdinfo
 * flags): a second station's job, mkfs, dd. Only seen where /proc lets us
 * look (root); our own process is left out, its jobs are known to the queue. */
static int collect_writers(struct use_set *s)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    int rc = 0;
    struct dirent *p;
    while (!rc && (p = readdir(proc))) {
        char *end;
        long pid = strtol(p->d_name, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid())
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
        DIR *fds = opendir(path);
        if (!fds)
            continue;
        struct dirent *f;
        while (!rc && (f = readdir(fds))) {
            if (f->d_name[0] == '.')
                continue;
            char fd[96], info[96], line[128];
            struct stat st;
            snprintf(fd, sizeof(fd), "/proc/%ld/fd/%s", pid, f->d_name);
            if (stat(fd, &st) != 0 || !S_ISBLK(st.st_mode))
                continue;
            snprintf(info, sizeof(info), "/proc/%ld/fdinfo/%s", pid, f->d_name);
            FILE *fi = fopen(info, "re");
            unsigned long flags = 0;
            while (fi && fgets(line, sizeof(line), fi))
                if (sscanf(line, "flags: %lo", &flags) == 1)
                    break;
            if (fi)
                fclose(fi);
            if ((flags & O_ACCMODE) == O_RDONLY)
                continue;
            char comm[32] = "?", why[160];
            snprintf(info, sizeof(info), "/proc/%ld/comm", pid);
            if ((fi = fopen(info, "re"))) {
                if (fgets(comm, sizeof(comm), fi))
                    comm[strcspn(comm, "\n")] = '\0';
                fclose(fi);
            }
            snprintf(why, sizeof(why), "open for writing by PID %ld (%s)", pid, comm);
            rc = use_add(s, major(st.st_rdev), minor(st.st_rdev), 0, why);
            if (!rc)
                s->items[s->count - 1].writer = true;
        }
        closedir(fds);
    }
    closedir(proc);
    return rc;
}

/* Does the mounted device ma:mi lie on the drive dma:dmi within [off, off+len)? */
static bool mount_on_range(const struct sysfs_ctx *ctx, unsigned ma, unsigned mi, unsigned dma, unsigned dmi,
                           uint64_t off, uint64_t len)
{
    if (ma == dma && mi == dmi)
        return true;        /* the drive itself: anything on it may change */
    char parent[32];
    unsigned pa, pi;
    if (!sysfs_exists(ctx, "sys/dev/block/%u:%u/partition", ma, mi) ||
        sysfs_read_str(ctx, parent, sizeof(parent), "sys/dev/block/%u:%u/../dev", ma, mi) ||
        sscanf(parent, "%u:%u", &pa, &pi) != 2 || pa != dma || pi != dmi)
        return false;
    uint64_t start, size;
    if (sysfs_read_u64(ctx, &start, "sys/dev/block/%u:%u/start", ma, mi) ||
        sysfs_read_u64(ctx, &size, "sys/dev/block/%u:%u/size", ma, mi))
        return true;        /* a partition of the drive at an unknown place: assume the worst */
    start *= 512;           /* sysfs counts 512-byte sectors whatever the drive's */
    size *= 512;
    return start < off + len && off < start + size;
}

int dev_mounted_rw(const struct sysfs_ctx *ctx, unsigned major, unsigned minor, uint64_t off, uint64_t len,
                   char *where, size_t where_len)
{
    char path[512], line[2048];
    where[0] = '\0';
    sysfs_path(ctx, path, sizeof(path), "proc/self/mountinfo");
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        struct dev_mount m;
        unsigned ma, mi;
        if (dev_mountinfo_parse_line(line, &m) || !m.rw)
            continue;
        /* btrfs and others show an anonymous device number: the source names the drive. */
        bool hit = m.major && mount_on_range(ctx, m.major, m.minor, major, minor, off, len);
        if (!hit && m.source[0] == '/' && devnum_of_path(ctx, m.source, &ma, &mi) == 0)
            hit = mount_on_range(ctx, ma, mi, major, minor, off, len);
        if (hit) {
            snprintf(where, where_len, "%s is mounted read-write on %s", m.source, m.target);
            rc = 1;
        }
    }
    fclose(f);
    return rc;
}

/* The first use of a device number of that sort (a writer, or a mount);
 * for system, the weightiest one. */
static const struct use *use_find(const struct use_set *s, unsigned major, unsigned minor, bool system,
                                  bool writer)
{
    const struct use *best = NULL;
    for (size_t i = 0; i < s->count; i++) {
        const struct use *u = &s->items[i];
        if (u->major != major || u->minor != minor || u->writer != writer)
            continue;
        if (!system)
            return u;
        if (u->system && (!best || u->system > best->system))
            best = u;
    }
    return best;
}

/* Check a block device (sys/class/block/NAME) and everything stacked on it. */
static void check_stack(const struct sysfs_ctx *ctx, const struct use_set *s, const char *name,
                        struct dev_drive *d, int *sys_weight, int depth)
{
    char dev[32];
    unsigned ma, mi;
    if (depth > 8)
        return;
    if (sysfs_read_str(ctx, dev, sizeof(dev), "sys/class/block/%s/dev", name) == 0 &&
        sscanf(dev, "%u:%u", &ma, &mi) == 2) {
        const struct use *u = use_find(s, ma, mi, false, false);
        if (u && !d->mounted) {
            d->mounted = true;
            snprintf(d->mounted_why, sizeof(d->mounted_why), "%s", u->why);
        }
        if ((u = use_find(s, ma, mi, false, true)) && !d->busy) {
            d->busy = true;
            snprintf(d->busy_why, sizeof(d->busy_why), "%s", u->why);
        }
        u = use_find(s, ma, mi, true, false);
        if (u && u->system > *sys_weight) {
            *sys_weight = u->system;
            d->system = true;
            snprintf(d->system_why, sizeof(d->system_why), "%s", u->why);
        }
    }
    char path[512];
    sysfs_path(ctx, path, sizeof(path), "sys/class/block/%s/holders", name);
    DIR *dh = opendir(path);
    if (!dh)
        return;
    struct dirent *e;
    while ((e = readdir(dh)))
        if (e->d_name[0] != '.')
            check_stack(ctx, s, e->d_name, d, sys_weight, depth + 1);
    closedir(dh);
}

static void check_drive(const struct sysfs_ctx *ctx, const struct use_set *s, struct dev_drive *d)
{
    d->mounted = d->system = d->busy = false;
    d->mounted_why[0] = d->system_why[0] = d->busy_why[0] = '\0';
    int sys_weight = 0;
    check_stack(ctx, s, d->name, d, &sys_weight, 0);
    /* The kernel's partitions are the children of the disk that have a "partition" file. */
    char path[512];
    sysfs_path(ctx, path, sizeof(path), "sys/block/%s", d->name);
    DIR *dh = opendir(path);
    if (!dh)
        return;
    struct dirent *e;
    while ((e = readdir(dh)))
        if (e->d_name[0] != '.' && sysfs_exists(ctx, "sys/block/%s/%s/partition", d->name, e->d_name))
            check_stack(ctx, s, e->d_name, d, &sys_weight, 0);
    closedir(dh);
}

int dev_safety_fill(const struct sysfs_ctx *ctx, struct dev_list *list)
{
    struct use_set s = { 0 };
    int rc = collect_mounts(ctx, &s);
    if (!rc)
        rc = collect_swaps(ctx, &s);
    if (!rc && sysfs_is_live(ctx)) {
        /* Root may be on something mountinfo names oddly (/dev/root): trust stat. */
        struct stat st;
        if (stat("/", &st) == 0)
            rc = use_add(&s, major(st.st_dev), minor(st.st_dev), 2, "it holds the root filesystem");
        /* Our live ISO's init records the medium it booted from. */
        char boot[256];
        unsigned ma, mi;
        if (!rc && sysfs_read_str(ctx, boot, sizeof(boot), "run/clonebay/boot-device") == 0 &&
            devnum_of_path(ctx, boot, &ma, &mi) == 0)
            rc = use_add(&s, ma, mi, 2, "the system booted from it");
        if (!rc)
            rc = collect_writers(&s);
    }
    for (size_t i = 0; !rc && i < list->count; i++)
        check_drive(ctx, &s, &list->drives[i]);
    free(s.items);
    return rc;
}
