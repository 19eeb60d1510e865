/* dev_health_cache: each drive's health, read in the background and kept.
 *
 * smartctl takes seconds on some drives (a USB bridge, a failing disk), and a
 * drive list must never wait for it: a lookup answers at once from what is
 * known, and a drive not read yet is queued for worker threads and shows
 * "unknown" (reading) meanwhile. Entries are kept by identity (device number,
 * diskseq, serial), so a re-plugged or replaced drive is read again. Loops,
 * virtual disks and optical drives are answered at once without smartctl. */
#ifndef CB_DEV_HEALTH_CACHE_H
#define CB_DEV_HEALTH_CACHE_H

#include "devices/dev_health.h"
#include "devices/dev_types.h"

#include <stdbool.h>

struct dev_health_cache;

/* Starts workers threads (1 or more); smartctl is killed after timeout_s.
 * 0 or -errno. */
int dev_health_cache_open(struct dev_health_cache **out, int workers, int timeout_s);
/* Stops the workers (a smartctl running finishes or times out) and frees. */
void dev_health_cache_close(struct dev_health_cache *c);

/* The health of d: true with out filled when it has been read; false while
 * it is being read (out "unknown", why "not read yet"), and d is queued. */
bool dev_health_cache_get(struct dev_health_cache *c, const struct dev_drive *d, struct dev_health *out);
/* Counts the reads finished: a screen redraws when it changes. */
unsigned dev_health_cache_generation(struct dev_health_cache *c);
/* Waits until every queued drive has been read (the command line). */
void dev_health_cache_wait(struct dev_health_cache *c);

#endif
