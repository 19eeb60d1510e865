/* le_bytes: little-endian fields of on-disk structures (partition tables,
 * superblocks), read and written without alignment assumptions. */
#ifndef CB_LE_BYTES_H
#define CB_LE_BYTES_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t le_get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }
static inline uint32_t le_get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static inline uint16_t le_get16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static inline void le_put64(unsigned char *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static inline void le_put32(unsigned char *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }

#endif
