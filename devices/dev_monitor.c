#include "devices/dev_monitor.h"
#include "devices/dev_scan.h"

#include <errno.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dev_monitor {
    struct udev *udev;
    struct udev_monitor *mon;
    const char *source;
    struct sysfs_ctx ctx;
    /* Kernel names currently listed as drives: events are judged against it. */
    size_t count, cap;
    char (*known)[32];
};

const char *dev_event_type_name(enum dev_event_type type)
{
    return type == DEV_EVENT_ADD ? "add" : type == DEV_EVENT_REMOVE ? "remove" : "change";
}

static ssize_t known_index(const struct dev_monitor *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->known[i], name) == 0)
            return (ssize_t)i;
    return -1;
}

static int known_add(struct dev_monitor *m, const char *name)
{
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        char (*n)[32] = realloc(m->known, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        m->known = n;
        m->cap = cap;
    }
    snprintf(m->known[m->count++], 32, "%s", name);
    return 0;
}

static bool is_drive_now(struct dev_monitor *m, const char *name)
{
    struct dev_drive d;
    int rc = dev_probe_one(&m->ctx, name, &d);
    if (rc == 0)
        dev_drive_release(&d);
    return rc == 0;
}

int dev_monitor_open(struct dev_monitor **out, struct cb_error *err)
{
    struct dev_monitor *m = calloc(1, sizeof(*m));
    if (!m)
        return cb_error_set(err, -ENOMEM, "out of memory opening the drive monitor");
    sysfs_init(&m->ctx, NULL);
    m->udev = udev_new();
    /* Without udevd nobody re-broadcasts on the "udev" group: listen to the kernel. */
    m->source = access("/run/udev/control", F_OK) == 0 ? "udev" : "kernel";
    m->mon = m->udev ? udev_monitor_new_from_netlink(m->udev, m->source) : NULL;
    if (!m->mon || udev_monitor_filter_add_match_subsystem_devtype(m->mon, "block", "disk") < 0 ||
        udev_monitor_enable_receiving(m->mon) < 0) {
        int e = errno ? -errno : -EIO;
        cb_error_set(err, e, "cannot listen for drives being plugged in (%s netlink): %s",
                     m->source, strerror(-e));
        dev_monitor_close(m);
        return e;
    }
    /* What is a drive right now, so later events can be judged. */
    struct dev_list list;
    struct dev_scan_opts opts = { 0 };
    if (dev_scan(&opts, &list, NULL) == 0) {
        for (size_t i = 0; i < list.count; i++)
            known_add(m, list.drives[i].name);
        dev_list_free(&list);
    }
    *out = m;
    return 0;
}

void dev_monitor_close(struct dev_monitor *m)
{
    if (!m)
        return;
    if (m->mon)
        udev_monitor_unref(m->mon);
    if (m->udev)
        udev_unref(m->udev);
    free(m->known);
    free(m);
}

int dev_monitor_fd(const struct dev_monitor *m)
{
    return udev_monitor_get_fd(m->mon);
}

const char *dev_monitor_source(const struct dev_monitor *m)
{
    return m->source;
}

int dev_monitor_drain(struct dev_monitor *m, void (*fn)(const struct dev_event *, void *), void *arg)
{
    int reported = 0;
    struct udev_device *dev;
    while ((dev = udev_monitor_receive_device(m->mon))) {
        const char *name = udev_device_get_sysname(dev);
        const char *action = udev_device_get_action(dev);
        struct dev_event ev = { .type = DEV_EVENT_CHANGE };
        snprintf(ev.name, sizeof(ev.name), "%s", name ? name : "");
        ssize_t idx = known_index(m, ev.name);
        /* A removed node may linger in sysfs for a moment: trust "remove". */
        bool now = action && strcmp(action, "remove") != 0 && is_drive_now(m, ev.name);
        udev_device_unref(dev);
        if (!ev.name[0] || (idx < 0 && !now))
            continue;
        if (idx < 0) {
            ev.type = DEV_EVENT_ADD;
            if (known_add(m, ev.name))
                return -ENOMEM;
        } else if (!now) {
            ev.type = DEV_EVENT_REMOVE;
            memmove(m->known[idx], m->known[idx + 1], (m->count - (size_t)idx - 1) * sizeof(m->known[0]));
            m->count--;
        }
        if (fn)
            fn(&ev, arg);
        reported++;
    }
    return reported;
}
