/* udf: how much of a disc is its UDF volume (DVD and Blu-ray discs; Blu-ray
 * discs often carry no ISO 9660 at all). Read from the anchor at sector 256:
 * the partition's end, then the trailing anchor and reserve descriptors
 * that follow it, so an image holds the whole volume and no run-out. */
#ifndef CB_UDF_H
#define CB_UDF_H

#include "clone/io.h"

#include <stdint.h>

/* 1 with *bytes (and the logical volume's name) when src holds a UDF volume;
 * 0 when it does not; -errno when its descriptors cannot be read. */
int udf_volume(struct io_dev *src, uint64_t *bytes, char *label, size_t label_len);

#endif
