#include "devices/dev_scan.h"
#include "devices/dev_identity.h"
#include "devices/dev_partitions.h"
#include "devices/dev_props.h"
#include "devices/dev_safety.h"

#include <dirent.h>
#include <errno.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *dev_kind_name(enum dev_kind kind)
{
    static const char *const names[] = {
        [DEV_KIND_UNKNOWN] = "unknown", [DEV_KIND_HDD] = "hdd", [DEV_KIND_SSD] = "ssd",
        [DEV_KIND_NVME] = "nvme", [DEV_KIND_USB] = "usb", [DEV_KIND_SD] = "sd",
        [DEV_KIND_OPTICAL] = "optical", [DEV_KIND_VIRTUAL] = "virtual", [DEV_KIND_LOOP] = "loop",
    };
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}

const char *dev_bus_name(enum dev_bus bus)
{
    static const char *const names[] = {
        [DEV_BUS_UNKNOWN] = "unknown", [DEV_BUS_SATA] = "sata", [DEV_BUS_SAS] = "sas",
        [DEV_BUS_SCSI] = "scsi", [DEV_BUS_NVME] = "nvme", [DEV_BUS_USB] = "usb",
        [DEV_BUS_MMC] = "mmc", [DEV_BUS_VIRTIO] = "virtio", [DEV_BUS_LOOP] = "loop",
    };
    return (unsigned)bus < sizeof(names) / sizeof(names[0]) ? names[bus] : "unknown";
}

void dev_drive_release(struct dev_drive *d)
{
    free(d->parts);
    d->parts = NULL;
    d->npart = 0;
}

void dev_list_free(struct dev_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        dev_drive_release(&list->drives[i]);
    free(list->drives);
    list->drives = NULL;
    list->count = 0;
}

struct dev_drive *dev_list_find(struct dev_list *list, const char *what)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->drives[i].path, what) == 0 || strcmp(list->drives[i].name, what) == 0)
            return &list->drives[i];
    return NULL;
}

bool dev_name_is_ignored(const char *name)
{
    static const char *const prefixes[] = { "ram", "zram", "dm-", "md", "nbd", "fd", "mtdblock" };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static void load_props(const struct sysfs_ctx *ctx, const char *name, struct dev_props *props)
{
    if (sysfs_is_live(ctx)) {
        struct udev *udev = udev_new();
        struct udev_device *dev = udev ? udev_device_new_from_subsystem_sysname(udev, "block", name) : NULL;
        if (dev) {
            dev_props_from_udev(props, dev);
            udev_device_unref(dev);
        }
        if (udev)
            udev_unref(udev);
        return;
    }
    char dev[32], path[512];
    if (sysfs_read_str(ctx, dev, sizeof(dev), "sys/block/%s/dev", name) == 0 &&
        sysfs_path(ctx, path, sizeof(path), "run/udev/data/b%s", dev) == 0)
        dev_props_load_db(props, path);
}

int dev_identify_one(const struct sysfs_ctx *ctx, const char *name, struct dev_drive *out)
{
    memset(out, 0, sizeof(*out));
    if (dev_name_is_ignored(name) || !sysfs_exists(ctx, "sys/block/%s", name))
        return -ENODEV;
    /* A loop device with nothing attached is not a drive. */
    if (strncmp(name, "loop", 4) == 0 && !sysfs_exists(ctx, "sys/block/%s/loop/backing_file", name))
        return -ENODEV;
    struct dev_props props;
    dev_props_init(&props);
    load_props(ctx, name, &props);
    int rc = dev_identity_fill(ctx, name, &props, out);
    dev_props_free(&props);
    /* Empty fixed devices are internals; empty removable ones are card readers. */
    if (!rc && out->size == 0 && !out->is_optical && !out->removable)
        return -ENODEV;
    return rc;
}

int dev_probe_one(const struct sysfs_ctx *ctx, const char *name, struct dev_drive *out)
{
    int rc = dev_identify_one(ctx, name, out);
    if (rc)
        return rc;
    rc = dev_partitions_fill(ctx, out);
    if (rc) {
        dev_drive_release(out);
        return rc;
    }
    return 0;
}

/* Kernel names of whole disks: libudev on a live system, sys/block in a saved tree. */
static int list_names(const struct sysfs_ctx *ctx, char ***names, size_t *count)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    int rc = 0;
#define PUSH(s) do { \
        if (n == cap) { cap = cap ? cap * 2 : 16; char **t = realloc(v, cap * sizeof(*t)); \
            if (!t) { rc = -ENOMEM; break; } v = t; } \
        if (!(v[n] = strdup(s))) { rc = -ENOMEM; break; } n++; } while (0)
    if (sysfs_is_live(ctx)) {
        struct udev *udev = udev_new();
        struct udev_enumerate *en = udev ? udev_enumerate_new(udev) : NULL;
        if (!en) {
            if (udev)
                udev_unref(udev);
            return -ENOMEM;
        }
        udev_enumerate_add_match_subsystem(en, "block");
        udev_enumerate_add_match_property(en, "DEVTYPE", "disk");
        udev_enumerate_scan_devices(en);
        struct udev_list_entry *e;
        udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
            const char *p = udev_list_entry_get_name(e);
            const char *slash = strrchr(p, '/');
            PUSH(slash ? slash + 1 : p);
        }
        udev_enumerate_unref(en);
        udev_unref(udev);
    } else {
        char dir[512];
        sysfs_path(ctx, dir, sizeof(dir), "sys/block");
        DIR *dh = opendir(dir);
        if (!dh)
            return -errno;
        struct dirent *e;
        while ((e = readdir(dh)))
            if (e->d_name[0] != '.')
                PUSH(e->d_name);
        closedir(dh);
    }
#undef PUSH
    *names = v;
    *count = n;
    return rc;
}

static bool wanted(const struct dev_scan_opts *opts, const struct dev_drive *d)
{
    if (opts && opts->bench_dir) {
        size_t n = strlen(opts->bench_dir);
        if (d->kind != DEV_KIND_LOOP || strncmp(d->backing_file, opts->bench_dir, n) != 0 ||
            (d->backing_file[n] != '/' && opts->bench_dir[n - 1] != '/'))
            return false;
    }
    if (!opts || !opts->only)
        return true;
    for (const char *const *p = opts->only; *p; p++)
        if (strcmp(*p, d->path) == 0 || strcmp(*p, d->name) == 0)
            return true;
    return false;
}

/* Whether kernel name is in only, by name or as /dev/NAME. */
static bool name_listed(const char *const *only, const char *name)
{
    for (const char *const *p = only; *p; p++)
        if (!strcmp(*p, name) || (!strncmp(*p, "/dev/", 5) && !strcmp(*p + 5, name)))
            return true;
    return false;
}

static int cmp_drive(const void *a, const void *b)
{
    const struct dev_drive *x = a, *y = b;
    size_t lx = strlen(x->name), ly = strlen(y->name);
    /* sdb before sdaa, loop2 before loop10 */
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->name, y->name);
}

int dev_scan(const struct dev_scan_opts *opts, struct dev_list *out, struct cb_error *err)
{
    struct sysfs_ctx ctx;
    sysfs_init(&ctx, opts ? opts->sysroot : NULL);
    memset(out, 0, sizeof(*out));
    char **names = NULL;
    size_t count = 0;
    int rc = list_names(&ctx, &names, &count);
    if (rc) {
        cb_error_set(err, rc, "cannot list block devices under %s/sys/block: %s",
                     ctx.root, strerror(-rc));
        goto out;
    }
    out->drives = calloc(count ? count : 1, sizeof(*out->drives));
    if (!out->drives) {
        rc = cb_error_set(err, -ENOMEM, "out of memory while listing drives");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        struct dev_drive *d = &out->drives[out->count];
        if (opts && opts->only && !name_listed(opts->only, names[i]))
            continue;       /* not probed at all: a failing drive elsewhere costs nothing */
        if (dev_identify_one(&ctx, names[i], d))
            continue;
        /* Who it is decides whether it is listed, before its media is read:
         * the practice bench never probes the machine's own drives. */
        if (!wanted(opts, d)) {
            dev_drive_release(d);
            continue;
        }
        if (!(opts && opts->identity_only) && dev_partitions_fill(&ctx, d)) {
            dev_drive_release(d);
            continue;
        }
        out->count++;
    }
    qsort(out->drives, out->count, sizeof(*out->drives), cmp_drive);
    rc = dev_safety_fill(&ctx, out);
    if (rc)
        cb_error_set(err, rc, "cannot read what is mounted (%s/proc/self/mountinfo): %s",
                     ctx.root, strerror(-rc));
out:
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (rc)
        dev_list_free(out);
    return rc;
}
