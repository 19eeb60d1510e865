/* units: byte sizes for humans and back.
 *
 * Drives are sold in decimal units but filesystems think in binary ones;
 * technicians at a bench read "931.5 GiB" for a 1 TB disk, so we print IEC
 * units with one decimal, and accept both families when parsing options. */
#ifndef CB_UNITS_H
#define CB_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "0 B", "512 B", "1.0 KiB", "14.3 GiB". Returns buf. */
char *units_format_bytes(uint64_t bytes, char *buf, size_t len);

/* "4G", "4GiB", "512M", "1.5T", "4000000000", "4GB" (decimal). 0 or -EINVAL. */
int units_parse_bytes(const char *text, uint64_t *out);

#endif
