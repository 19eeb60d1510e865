/* hash: digests of the data stream through OpenSSL EVP.
 *
 * md5, sha1, sha256, sha512; several at once, each computed on its own
 * thread by the engine. A digest also records "prefix digests" at every
 * buffer boundary, so a failed verification can say where the copies first
 * differ without a second pass over the source. */
#ifndef CB_HASH_H
#define CB_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hash_alg { HASH_MD5, HASH_SHA1, HASH_SHA256, HASH_SHA512, HASH_COUNT };

#define HASH_MAX_HEX 129

/* "sha256,md5" -> bit mask (1 << alg); "none" -> 0. -EINVAL on an unknown name. */
int hash_parse_list(const char *text, unsigned *mask, char *bad, size_t badlen);
const char *hash_name(enum hash_alg alg);

struct hash_ctx;

struct hash_ctx *hash_new(enum hash_alg alg);
void hash_free(struct hash_ctx *h);
void hash_update(struct hash_ctx *h, const void *data, size_t len);
/* Digest of everything so far, as lowercase hex, without ending the stream. */
void hash_peek_hex(struct hash_ctx *h, char hex[HASH_MAX_HEX]);
#define HASH_MAX_RAW 64
/* Final digest as bytes (returns its length, 0 on failure); h starts over. */
int hash_final_raw(struct hash_ctx *h, unsigned char out[HASH_MAX_RAW]);

/* Final digest as lowercase hex. */
void hash_final_hex(struct hash_ctx *h, char hex[HASH_MAX_HEX]);

#endif
