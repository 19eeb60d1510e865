/* dev_monitor: drives plugged in, pulled, or changed, as a pollable fd.
 *
 * Listens to udevd's events when udevd runs, else to the kernel's uevents
 * directly, so a loop device attached on a bench without udevd is still seen.
 * Raw kernel events are turned into drive events: attaching a file to an
 * existing (empty) loop device is an "add" for us, detaching it a "remove". */
#ifndef CB_DEV_MONITOR_H
#define CB_DEV_MONITOR_H

#include "common/cb_error.h"
#include "devices/sysfs.h"

enum dev_event_type { DEV_EVENT_ADD, DEV_EVENT_REMOVE, DEV_EVENT_CHANGE };

struct dev_event {
    enum dev_event_type type;
    char name[32];          /* kernel name of the drive */
};

struct dev_monitor;

int dev_monitor_open(struct dev_monitor **out, struct cb_error *err);
void dev_monitor_close(struct dev_monitor *mon);
/* Readable when events wait; poll it with POLLIN. */
int dev_monitor_fd(const struct dev_monitor *mon);
/* Read every pending event without blocking; calls fn once per drive event.
 * Returns how many drive events were reported, or -errno. */
int dev_monitor_drain(struct dev_monitor *mon,
                      void (*fn)(const struct dev_event *ev, void *arg), void *arg);
const char *dev_event_type_name(enum dev_event_type type);
/* "udev" or "kernel": the source being listened to. */
const char *dev_monitor_source(const struct dev_monitor *mon);

#endif
