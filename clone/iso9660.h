/* iso9660: how much of an optical disc (or any source imaged to .iso) is the
 * filesystem. The primary volume descriptor (sector 16) gives the volume space
 * size; reading only that far leaves out the run-out sectors that fail on many
 * discs and are not part of the disc's content. */
#ifndef CB_ISO9660_H
#define CB_ISO9660_H

#include "clone/io.h"

#include <stdint.h>

/* 1 with *bytes (and the volume label, trimmed) when src holds an ISO 9660
 * volume; 0 when it does not (no descriptor); -errno when it cannot be read.
 * On a multi-session disc in a drive, the volume runs through the last session. */
int iso9660_volume(struct io_dev *src, uint64_t *bytes, char *label, size_t label_len);

/* Parse a primary volume descriptor (2048 bytes at byte 32768). */
int iso9660_parse_pvd(const unsigned char *pvd, uint64_t *bytes, char *label, size_t label_len);

#endif
