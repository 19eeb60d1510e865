#include "clone/image_format.h"

#include "common/array_free.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void img_meta_free(struct img_meta *m)
{
    array_free(&m->bad, &m->nbad);
    array_free(&m->used, &m->nused);
}

int img_range_push(struct img_range **v, size_t *n, struct img_range r)
{
    if ((*n & (*n - 1)) == 0) {     /* 0, 1, 2, 4, ...: the capacity doubles */
        struct img_range *g = realloc(*v, (*n ? *n * 2 : 1) * sizeof(**v));
        if (!g)
            return -ENOMEM;
        *v = g;
    }
    (*v)[(*n)++] = r;
    return 0;
}

void img_ranges_limit(struct img_range *v, size_t *n, size_t max)
{
    for (uint64_t gap = 4096; *n > max && max; gap *= 2) {
        size_t k = 0;
        for (size_t i = 1; i < *n; i++) {
            if (v[i].off - (v[k].off + v[k].len) <= gap)
                v[k].len = v[i].off + v[i].len - v[k].off;
            else
                v[++k] = v[i];
        }
        *n = k + 1;
    }
}

uint64_t img_used_bytes(const struct img_meta *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->nused; i++)
        n += m->used[i].len;
    return n;
}

/* A growing text buffer; on allocation failure it stays NULL and the result is NULL. */
struct text {
    char *buf;
    size_t len, cap;
    bool oom;
};

static void add(struct text *t, const char *key, const char *value)
{
    size_t need = strlen(key) + strlen(value) + 3;
    if (t->oom)
        return;
    if (t->len + need + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 1024) + need;
        char *n = realloc(t->buf, cap);
        if (!n) {
            t->oom = true;
            return;
        }
        t->buf = n;
        t->cap = cap;
    }
    int n = snprintf(t->buf + t->len, t->cap - t->len, "%s%s%s\n", key, value[0] || key[0] ? " " : "", value);
    /* One line per key: a newline inside a value would start a new key. */
    for (int i = 0; i < n - 1; i++)
        if (t->buf[t->len + (size_t)i] == '\n')
            t->buf[t->len + (size_t)i] = ' ';
    t->len += (size_t)n;
}

static void add_u64(struct text *t, const char *key, uint64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%" PRIu64, v);
    add(t, key, s);
}

static char *done(struct text *t, size_t *len)
{
    if (t->oom) {
        free(t->buf);
        return NULL;
    }
    *len = t->len;
    return t->buf;
}

char *img_meta_header_text(const struct img_meta *m, size_t *len)
{
    struct text t = { 0 };
    char first[64];
    snprintf(first, sizeof(first), "clonebay-image %d header", IMG_FORMAT);
    add(&t, first, "");
    add(&t, "tool", m->tool_version);
    add(&t, "created", m->created);
    add(&t, "source-path", m->source_path);
    add(&t, "source-kind", m->source_kind);
    add(&t, "source-model", m->source_model);
    add(&t, "source-serial", m->source_serial);
    add(&t, "contents", m->contents);
    add_u64(&t, "size", m->size);
    add_u64(&t, "sector", m->sector);
    add_u64(&t, "frame-size", m->frame_size);
    for (size_t i = 0; i < m->nused; i++) {
        char v[64];
        snprintf(v, sizeof(v), "%" PRIu64 " %" PRIu64, m->used[i].off, m->used[i].len);
        add(&t, "used", v);
    }
    return done(&t, len);
}

char *img_meta_trailer_text(const struct img_meta *m, size_t *len)
{
    struct text t = { 0 };
    char first[64];
    snprintf(first, sizeof(first), "clonebay-image %d trailer", IMG_FORMAT);
    add(&t, first, "");
    add(&t, "complete", m->complete ? "yes" : "no");
    for (int a = 0; a < HASH_COUNT; a++)
        if (m->digests[a][0]) {
            char v[HASH_MAX_HEX + 16];
            snprintf(v, sizeof(v), "%s %s", hash_name((enum hash_alg)a), m->digests[a]);
            add(&t, "hash", v);
        }
    if (m->fill[0])
        add(&t, "fill", m->fill);
    if (m->used_only)
        add(&t, "mode", "used");
    for (size_t i = 0; i < m->nbad; i++) {
        char v[64];
        snprintf(v, sizeof(v), "%" PRIu64 " %" PRIu64, m->bad[i].off, m->bad[i].len);
        add(&t, "bad", v);
    }
    return done(&t, len);
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || (*end && *end != ' '))
        return -EINVAL;
    *v = x;
    return 0;
}

static void set(char *dst, size_t cap, const char *v)
{
    snprintf(dst, cap, "%s", v);
}

/* "OFF LEN" after the last range, within the disk when size is known. */
static int parse_range(const char *v, const struct img_range *prev, struct img_range *r)
{
    const char *sp = strchr(v, ' ');
    if (!sp || parse_u64(v, &r->off) || parse_u64(sp + 1, &r->len) || r->len == 0 || r->off + r->len < r->off)
        return -EINVAL;
    return prev && r->off < prev->off + prev->len ? -EINVAL : 0;
}

static int header_line(struct img_meta *m, const char *key, const char *v)
{
    uint64_t x;
    if (!strcmp(key, "tool")) set(m->tool_version, sizeof(m->tool_version), v);
    else if (!strcmp(key, "created")) set(m->created, sizeof(m->created), v);
    else if (!strcmp(key, "source-path")) set(m->source_path, sizeof(m->source_path), v);
    else if (!strcmp(key, "source-kind")) set(m->source_kind, sizeof(m->source_kind), v);
    else if (!strcmp(key, "source-model")) set(m->source_model, sizeof(m->source_model), v);
    else if (!strcmp(key, "source-serial")) set(m->source_serial, sizeof(m->source_serial), v);
    else if (!strcmp(key, "contents")) set(m->contents, sizeof(m->contents), v);
    else if (!strcmp(key, "size")) { if (parse_u64(v, &m->size)) return -EINVAL; }
    else if (!strcmp(key, "sector")) {
        if (parse_u64(v, &x) || x < 512 || x > 65536 || (x & (x - 1))) return -EINVAL;
        m->sector = (unsigned)x;
    } else if (!strcmp(key, "frame-size")) {
        if (parse_u64(v, &x) || x == 0) return -EINVAL;
        if (x > IMG_FRAME_MAX) return -E2BIG;
        m->frame_size = (uint32_t)x;
    } else if (!strcmp(key, "used")) {
        struct img_range r;
        if (m->nused >= IMG_MAX_USED || parse_range(v, m->nused ? &m->used[m->nused - 1] : NULL, &r) ||
            (m->size && r.off + r.len > m->size))
            return -EINVAL;
        return img_range_push(&m->used, &m->nused, r);
    }
    return 0;       /* unknown keys: from a newer clonebay of the same format, ignored */
}

static int trailer_line(struct img_meta *m, const char *key, const char *v)
{
    if (!strcmp(key, "complete")) {
        m->complete = !strcmp(v, "yes");
    } else if (!strcmp(key, "mode")) {
        m->used_only = !strcmp(v, "used");
    } else if (!strcmp(key, "fill")) {
        set(m->fill, sizeof(m->fill), v);
    } else if (!strcmp(key, "hash")) {
        const char *sp = strchr(v, ' ');
        if (!sp)
            return -EINVAL;
        for (int a = 0; a < HASH_COUNT; a++)
            if (strlen(hash_name((enum hash_alg)a)) == (size_t)(sp - v) &&
                !strncmp(v, hash_name((enum hash_alg)a), (size_t)(sp - v))) {
                if (strlen(sp + 1) >= HASH_MAX_HEX || strspn(sp + 1, "0123456789abcdef") != strlen(sp + 1))
                    return -EINVAL;
                set(m->digests[a], HASH_MAX_HEX, sp + 1);
            }
    } else if (!strcmp(key, "bad")) {
        struct img_range r;
        if (m->nbad >= IMG_MAX_BAD || parse_range(v, NULL, &r))
            return -EINVAL;
        return img_range_push(&m->bad, &m->nbad, r);
    }
    return 0;
}

int img_meta_parse(struct img_meta *m, const char *text, size_t len, bool trailer, const char *what,
                   struct cb_error *err)
{
    const char *kind = trailer ? "trailer" : "header";
    if (len == 0 || memchr(text, '\0', len))
        return cb_error_set(err, -EINVAL, "%s: the image %s is not text: damaged", what, kind);
    char *copy = malloc(len + 1);
    if (!copy)
        return cb_error_set(err, -ENOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    int rc = 0, lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (lineno == 1) {
            int format = 0;
            char k[16] = "";
            if (sscanf(line, "clonebay-image %d %15s", &format, k) != 2 || strcmp(k, kind) != 0) {
                rc = cb_error_set(err, -EINVAL, "%s: the image %s does not start with 'clonebay-image N %s'",
                                  what, kind, kind);
            } else if (format > IMG_FORMAT || format < 1) {
                rc = cb_error_set(err, -ENOTSUP, "%s was written in image format %d; this clonebay (%s) reads "
                                  "format %d: use a newer clonebay (any zstd still decompresses it to the raw disk)",
                                  what, format, CLONEBAY_VERSION, IMG_FORMAT);
            }
            if (!trailer)
                m->format = format;
            continue;
        }
        char *sp = strchr(line, ' ');
        const char *v = sp ? sp + 1 : "";
        if (sp)
            *sp = '\0';
        int r = trailer ? trailer_line(m, line, v) : header_line(m, line, v);
        if (r == -ENOMEM)
            rc = cb_error_set(err, r, "out of memory");
        else if (r == -E2BIG)
            rc = cb_error_set(err, -EINVAL, "%s: the image header asks for frames of %s bytes; clonebay reads frames "
                              "of at most %u bytes (it writes %u), so decoding this image would take more memory "
                              "than a job may use: refused", what, v, IMG_FRAME_MAX, IMG_FRAME_SIZE);
        else if (r)
            rc = cb_error_set(err, -EINVAL, "%s: line %d of the image %s ('%s') is damaged", what, lineno,
                              kind, line);
    }
    free(copy);
    if (!rc && lineno == 0)
        rc = cb_error_set(err, -EINVAL, "%s: the image %s is empty", what, kind);
    if (!rc && !trailer && (m->size == 0 || m->sector == 0 || m->frame_size == 0))
        rc = cb_error_set(err, -EINVAL, "%s: the image header lacks the disk size, sector size or frame size",
                          what);
    return rc;
}

void *img_skippable_frame(uint32_t magic, const void *payload, size_t len, size_t *out_len)
{
    unsigned char *f = malloc(8 + len);
    if (!f)
        return NULL;
    img_put32(f, magic);
    img_put32(f + 4, (uint32_t)len);
    memcpy(f + 8, payload, len);
    *out_len = 8 + len;
    return f;
}

void *img_seek_table(const struct img_entry *e, uint32_t n, size_t *out_len)
{
    size_t payload = (size_t)n * IMG_SEEK_ENTRY + IMG_SEEK_FOOTER;
    unsigned char *f = malloc(8 + payload);
    if (!f)
        return NULL;
    img_put32(f, IMG_SEEK_MAGIC);
    img_put32(f + 4, (uint32_t)payload);
    unsigned char *p = f + 8;
    for (uint32_t i = 0; i < n; i++, p += IMG_SEEK_ENTRY) {
        img_put32(p, e[i].csize);
        img_put32(p + 4, e[i].dsize);
        img_put32(p + 8, e[i].checksum);
    }
    img_put32(p, n);
    p[4] = 0x80;            /* Checksum_Flag */
    img_put32(p + 5, IMG_SEEKABLE_MAGIC);
    *out_len = 8 + payload;
    return f;
}
