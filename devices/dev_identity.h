/* dev_identity: who a drive is (model, serial, bus, kind, geometry).
 *
 * Properties come from the udev database when udevd runs; every one of them
 * falls back to sysfs, because most benches we test on run no udevd. */
#ifndef CB_DEV_IDENTITY_H
#define CB_DEV_IDENTITY_H

#include "devices/dev_props.h"
#include "devices/dev_types.h"
#include "devices/sysfs.h"

/* The transport, from udev's ID_BUS/ID_PATH or the sysfs device path. */
enum dev_bus dev_bus_detect(const char *name, const char *devpath, const struct dev_props *props);

/* The kind a technician recognises. */
enum dev_kind dev_kind_classify(enum dev_bus bus, bool rotational, bool is_optical);

/* Fill identity and geometry of sys/block/NAME. 0 or -errno. */
int dev_identity_fill(const struct sysfs_ctx *ctx, const char *name,
                      const struct dev_props *props, struct dev_drive *drive);

#endif
