/* dev_hidden: areas an ATA drive hides from the system, read with hdparm.
 *
 * A Host Protected Area (HPA) lowers the drive's visible end below its
 * native maximum (READ NATIVE MAX ADDRESS, `hdparm -N`); a Device
 * Configuration Overlay (DCO) can lower the native maximum itself below the
 * real one (`hdparm --dco-identify`, "Real max sectors"). Vendors keep
 * recovery images there, and malware hides there: a clone of the visible
 * sectors does not hold them, and the report must say so. Both commands only
 * read; nothing here ever changes a drive's limits. */
#ifndef CB_DEV_HIDDEN_H
#define CB_DEV_HIDDEN_H

#include <stddef.h>
#include <stdint.h>

/* "max sectors   = VISIBLE/NATIVE, HPA is ..." from hdparm -N: 0, or
 * -EINVAL when out holds no such line (the drive or bridge refused). */
int dev_hidden_parse_max(const char *out, uint64_t *visible, uint64_t *native);
/* "Real max sectors: N" from hdparm --dco-identify: 0 or -EINVAL. */
int dev_hidden_parse_dco(const char *out, uint64_t *real_max);

/* Reads both for the ATA drive at path with sector-byte sectors: bytes
 * hidden by an HPA and by a DCO (beyond the HPA's native maximum), each -1
 * when the drive did not say. why says what could not be read, or "". */
void dev_hidden_read(const char *path, unsigned sector, int timeout_s, int64_t *hpa_bytes, int64_t *dco_bytes,
                     char *why, size_t len);

#endif
