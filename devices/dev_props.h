/* dev_props: the udev properties of one device, as key/value pairs.
 *
 * Filled from libudev on a live system, or parsed from a udev database file
 * (run/udev/data/bMAJ:MIN, lines "E:KEY=VALUE") in a saved tree. When udevd
 * does not run, the set holds only what the kernel's uevent says, and the
 * identity code falls back to sysfs. */
#ifndef CB_DEV_PROPS_H
#define CB_DEV_PROPS_H

#include <stddef.h>

struct udev_device;

struct dev_props {
    size_t count, cap;
    char **keys;
    char **values;
};

void dev_props_init(struct dev_props *props);
void dev_props_free(struct dev_props *props);
int dev_props_set(struct dev_props *props, const char *key, const char *value);
/* The value, or NULL when absent or empty. */
const char *dev_props_get(const struct dev_props *props, const char *key);
/* Parse a udev database file; a missing file is not an error (no udevd). */
int dev_props_load_db(struct dev_props *props, const char *path);
int dev_props_from_udev(struct dev_props *props, struct udev_device *dev);

/* udev's *_ENC values escape bytes as \xHH; decode into buf (trimmed). */
char *dev_props_decode(const char *enc, char *buf, size_t len);

#endif
