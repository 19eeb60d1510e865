#include "clone/hash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[HASH_COUNT] = { "md5", "sha1", "sha256", "sha512" };

const char *hash_name(enum hash_alg alg)
{
    return (unsigned)alg < HASH_COUNT ? names[alg] : "?";
}

int hash_parse_list(const char *text, unsigned *mask, char *bad, size_t badlen)
{
    *mask = 0;
    if (!strcmp(text, "none"))
        return 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", text);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int i = 0; i < HASH_COUNT; i++)
            if (!strcmp(t, names[i]))
                found = i;
        if (found < 0) {
            if (bad)
                snprintf(bad, badlen, "%s", t);
            return -EINVAL;
        }
        *mask |= 1u << found;
    }
    return *mask ? 0 : -EINVAL;
}

struct hash_ctx {
    EVP_MD_CTX *ctx;
};

static const EVP_MD *md_of(enum hash_alg alg)
{
    switch (alg) {
    case HASH_MD5:    return EVP_md5();
    case HASH_SHA1:   return EVP_sha1();
    case HASH_SHA256: return EVP_sha256();
    case HASH_SHA512: return EVP_sha512();
    default:          return NULL;
    }
}

struct hash_ctx *hash_new(enum hash_alg alg)
{
    struct hash_ctx *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || !md_of(alg) || EVP_DigestInit_ex(h->ctx, md_of(alg), NULL) != 1) {
        hash_free(h);
        return NULL;
    }
    return h;
}

void hash_free(struct hash_ctx *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void hash_update(struct hash_ctx *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

static void to_hex(const unsigned char *md, unsigned n, char hex[HASH_MAX_HEX])
{
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * n] = '\0';
}

void hash_peek_hex(struct hash_ctx *h, char hex[HASH_MAX_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    if (!copy || EVP_MD_CTX_copy_ex(copy, h->ctx) != 1 || EVP_DigestFinal_ex(copy, md, &n) != 1)
        n = 0;
    EVP_MD_CTX_free(copy);
    to_hex(md, n, hex);
}

void hash_final_hex(struct hash_ctx *h, char hex[HASH_MAX_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1)
        n = 0;
    to_hex(md, n, hex);
}

int hash_final_raw(struct hash_ctx *h, unsigned char out[HASH_MAX_RAW])
{
    unsigned n = 0;
    if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1)
        return 0;
    /* Ready for the next message with the same algorithm. */
    if (EVP_DigestInit_ex(h->ctx, NULL, NULL) != 1)
        return 0;
    return (int)n;
}
