#include "clone/image_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define ZSTD_MAGIC 0xFD2FB528u
#define READ_AHEAD (1u << 20)       /* room for one read(2) past what is needed */

static bool skippable(uint32_t magic)
{
    return (magic & 0xFFFFFFF0u) == 0x184D2A50u;
}

static const unsigned char *avail(const struct image_stream *s)
{
    return s->in + s->in_off;
}

static size_t have(const struct image_stream *s)
{
    return s->in_len - s->in_off;
}

static int cut_short(struct image_stream *s, struct cb_error *err)
{
    return cb_error_set(err, -EPIPE, "%s ended at byte %llu, in the middle of the image: cut short (the sender "
                        "stopped, or this receiver was dropped from the session)", s->name,
                        (unsigned long long)(s->in_pos + have(s)));
}

/* At least need bytes buffered; false (*eof) when the stream ends first. */
static int fill(struct image_stream *s, size_t need, bool *eof, struct cb_error *err)
{
    *eof = false;
    if (have(s) >= need)
        return 0;
    if (s->in_off) {
        memmove(s->in, avail(s), have(s));
        s->in_len -= s->in_off;
        s->in_off = 0;
    }
    if (need + READ_AHEAD > s->in_cap) {
        unsigned char *n = realloc(s->in, need + READ_AHEAD);
        if (!n)
            return cb_error_set(err, -ENOMEM, "out of memory for %s", s->name);
        s->in = n;
        s->in_cap = need + READ_AHEAD;
    }
    while (s->in_len < need) {
        ssize_t r = read(s->fd, s->in + s->in_len, s->in_cap - s->in_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cb_error_set(err, -errno, "cannot read %s at byte %llu: %s", s->name,
                                (unsigned long long)(s->in_pos + s->in_len), strerror(errno));
        if (r == 0) {
            *eof = true;
            return 0;
        }
        s->in_len += (size_t)r;
    }
    return 0;
}

static int need(struct image_stream *s, size_t n, struct cb_error *err)
{
    bool eof;
    int rc = fill(s, n, &eof, err);
    return rc ? rc : eof ? cut_short(s, err) : 0;
}

static int record(struct image_stream *s, uint32_t csize, uint32_t dsize, uint32_t checksum, struct cb_error *err)
{
    if (s->nseen == s->seen_cap) {
        uint32_t cap = s->seen_cap ? s->seen_cap * 2 : 256;
        struct img_entry *n = realloc(s->seen, cap * sizeof(*n));
        if (!n)
            return cb_error_set(err, -ENOMEM, "out of memory for %s", s->name);
        s->seen = n;
        s->seen_cap = cap;
    }
    s->seen[s->nseen++] = (struct img_entry){ csize, dsize, checksum };
    s->in_off += csize;
    s->in_pos += csize;
    return 0;
}

/* A skippable frame's payload, whole in the buffer (metadata, seek table). */
static int whole_skippable(struct image_stream *s, const char *what, uint32_t *len, struct cb_error *err)
{
    int rc = need(s, 8, err);
    if (rc)
        return rc;
    *len = img_le32(avail(s) + 4);
    if (*len > IMG_META_MAX)
        return cb_error_set(err, -EINVAL, "%s: %s at byte %llu claims %u bytes: damaged, or not a clonebay image",
                            s->name, what, (unsigned long long)s->in_pos, *len);
    return need(s, 8 + (size_t)*len, err);
}

/* A skippable frame clonebay does not use: passed over, however long. */
static int skip_frame(struct image_stream *s, struct cb_error *err)
{
    uint32_t len = img_le32(avail(s) + 4);
    int rc = record(s, 8, 0, 0, err);       /* the entry gets its size below */
    s->seen[s->nseen - 1].csize = 8 + len;
    for (uint32_t left = len; !rc && left;) {
        size_t n = left < READ_AHEAD ? left : READ_AHEAD;
        if (!(rc = need(s, n, err))) {
            s->in_off += n;
            s->in_pos += n;
            left -= (uint32_t)n;
        }
    }
    return rc;
}

static int damaged(struct image_stream *s, uint32_t csize, uint32_t dsize, const char *why, struct cb_error *err)
{
    return cb_error_set(err, -EIO, "%s: frame %u (stream bytes %llu-%llu, disk bytes %llu-%llu) is damaged: %s",
                        s->name, s->nseen + 1, (unsigned long long)s->in_pos,
                        (unsigned long long)(s->in_pos + csize - 1), (unsigned long long)s->dpos,
                        (unsigned long long)(s->dpos + dsize - 1), why);
}

/* Decode the zstd frame at the front of the buffer into dbuf. */
static int data_frame(struct image_stream *s, struct cb_error *err)
{
    size_t bound = ZSTD_compressBound(s->meta.frame_size) + 64, csize;
    for (;;) {
        csize = ZSTD_findFrameCompressedSize(avail(s), have(s));
        if (!ZSTD_isError(csize))
            break;
        if (have(s) >= bound)
            return damaged(s, (uint32_t)bound, 0, "no frame end within the largest frame the header allows", err);
        int rc = need(s, have(s) + 1, err);
        if (rc)
            return rc;
    }
    const unsigned char *p = avail(s);
    unsigned long long dsize = ZSTD_getFrameContentSize(p, csize);
    if (dsize == ZSTD_CONTENTSIZE_UNKNOWN || dsize == ZSTD_CONTENTSIZE_ERROR || dsize > s->meta.frame_size)
        return damaged(s, (uint32_t)csize, 0, "it does not say how much disk it holds, or more than a frame", err);
    if (s->dpos + dsize > s->meta.size)
        return damaged(s, (uint32_t)csize, (uint32_t)dsize, "it runs past the disk size the header gives", err);
    if (!(p[4] & 0x04))         /* Frame_Header_Descriptor: Content_Checksum_flag */
        return damaged(s, (uint32_t)csize, (uint32_t)dsize, "it carries no checksum (clonebay writes one in "
                       "every frame)", err);
    size_t r = ZSTD_decompressDCtx(s->zstd, s->dbuf, s->meta.frame_size, p, csize);
    if (ZSTD_isError(r))
        return damaged(s, (uint32_t)csize, (uint32_t)dsize, ZSTD_getErrorName(r), err);
    if (r != dsize)
        return damaged(s, (uint32_t)csize, (uint32_t)dsize, "it decodes to the wrong size", err);
    int rc = record(s, (uint32_t)csize, (uint32_t)dsize, img_le32(p + csize - 4), err);
    if (rc)
        return rc;
    s->dpos += dsize;
    s->dlen = (size_t)dsize;
    s->data_frames++;
    return 0;
}

/* The next frame that holds disk bytes; other skippable frames pass by. */
static int next_data(struct image_stream *s, struct cb_error *err)
{
    for (;;) {
        int rc = need(s, 8, err);
        if (rc)
            return rc;
        uint32_t m = img_le32(avail(s));
        if (m == ZSTD_MAGIC)
            return data_frame(s, err);
        if (m == IMG_META_MAGIC || m == IMG_SEEK_MAGIC)
            return cb_error_set(err, -EIO, "%s: the image's end comes at byte %llu of the disk, but its header "
                                "says %llu bytes: damaged", s->name, (unsigned long long)s->dpos,
                                (unsigned long long)s->meta.size);
        if (!skippable(m))
            return cb_error_set(err, -EIO, "%s: at byte %llu comes neither a zstd frame nor a skippable one: "
                                "damaged", s->name, (unsigned long long)s->in_pos);
        if ((rc = skip_frame(s, err)))
            return rc;
    }
}

/* The seek table lists every frame that went by, sizes and checksums. */
static int check_seek_table(struct image_stream *s, uint32_t len, struct cb_error *err)
{
    const unsigned char *p = avail(s) + 8, *f = p + len - IMG_SEEK_FOOTER;
    if (len < IMG_SEEK_FOOTER || img_le32(f + 5) != IMG_SEEKABLE_MAGIC || !(f[4] & 0x80) || (f[4] & 0x7c))
        return cb_error_set(err, -EIO, "%s: the seek table at byte %llu is damaged", s->name,
                            (unsigned long long)s->in_pos);
    uint32_t n = img_le32(f);
    if (n != s->nseen || (uint64_t)n * IMG_SEEK_ENTRY + IMG_SEEK_FOOTER != len)
        return cb_error_set(err, -EIO, "%s: the seek table lists %u frames but %u came: frames were lost or added",
                            s->name, n, s->nseen);
    for (uint32_t i = 0; i < n; i++, p += IMG_SEEK_ENTRY) {
        const struct img_entry *e = &s->seen[i];
        if (img_le32(p) != e->csize || img_le32(p + 4) != e->dsize || img_le32(p + 8) != e->checksum)
            return cb_error_set(err, -EIO, "%s: frame %u does not match the seek table (%u bytes holding %u, "
                                "checksum %08x; the table says %u holding %u, checksum %08x)", s->name, i + 1,
                                e->csize, e->dsize, e->checksum, img_le32(p), img_le32(p + 4), img_le32(p + 8));
    }
    return 0;
}

/* After the last disk byte: the trailer, the seek table, then nothing. */
static int read_end(struct image_stream *s, struct cb_error *err)
{
    bool trailer = false;
    for (;;) {
        int rc = need(s, 8, err);
        if (rc)
            return rc;
        uint32_t m = img_le32(avail(s)), len;
        if (m == IMG_META_MAGIC && !trailer) {
            if ((rc = whole_skippable(s, "the trailer", &len, err)) ||
                (rc = img_meta_parse(&s->meta, (const char *)avail(s) + 8, len, true, s->name, err)) ||
                (rc = record(s, 8 + len, 0, 0, err)))
                return rc;
            trailer = true;
        } else if (m == IMG_SEEK_MAGIC && trailer) {
            if ((rc = whole_skippable(s, "the seek table", &len, err)) || (rc = check_seek_table(s, len, err)))
                return rc;
            s->in_off += 8 + (size_t)len;
            s->in_pos += 8 + (size_t)len;
            break;
        } else if (skippable(m) && m != IMG_META_MAGIC && m != IMG_SEEK_MAGIC) {
            if ((rc = skip_frame(s, err)))
                return rc;
        } else {
            return cb_error_set(err, -EIO, "%s: after the last byte of the disk, at stream byte %llu, comes %s: "
                                "damaged", s->name, (unsigned long long)s->in_pos,
                                m == ZSTD_MAGIC ? "more data" : trailer ? "no seek table" : "no trailer");
        }
    }
    bool eof;
    int rc = fill(s, 1, &eof, err);
    if (rc)
        return rc;
    if (!eof)
        return cb_error_set(err, -EIO, "%s: more bytes follow the image's seek table (at byte %llu): not one "
                            "image", s->name, (unsigned long long)s->in_pos);
    if (!s->meta.complete)
        return cb_error_set(err, -EIO, "%s: the image was not finished (its trailer says incomplete)", s->name);
    s->ended = true;
    return 0;
}

static int not_an_image(struct image_stream *s, struct cb_error *err)
{
    const unsigned char *p = avail(s);
    if (img_le32(p) == ZSTD_MAGIC)
        return cb_error_set(err, -EINVAL, "%s is not a clonebay image: it is a zstd stream without clonebay's "
                            "header (made by another tool)", s->name);
    return cb_error_set(err, -EINVAL, "%s is not a clonebay image: it starts with bytes %02x %02x %02x %02x, not "
                        "clonebay's header (another session's data?)", s->name, p[0], p[1], p[2], p[3]);
}

int image_stream_open(struct image_stream *s, int fd, const char *name, struct cb_error *err)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    snprintf(s->name, sizeof(s->name), "%s", name);
    bool eof;
    uint32_t len;
    int rc = fill(s, 8, &eof, err);
    if (!rc && eof)
        rc = cb_error_set(err, -EPIPE, "%s ended before an image began (%zu bytes came)", s->name, have(s));
    if (!rc && img_le32(avail(s)) != IMG_META_MAGIC)
        rc = not_an_image(s, err);
    if (!rc)
        rc = whole_skippable(s, "the header", &len, err);
    if (!rc)
        rc = img_meta_parse(&s->meta, (const char *)avail(s) + 8, len, false, s->name, err);
    if (!rc)
        rc = record(s, 8 + len, 0, 0, err);
    if (!rc && (!(s->zstd = ZSTD_createDCtx()) || !(s->dbuf = malloc(s->meta.frame_size))))
        rc = cb_error_set(err, -ENOMEM, "out of memory for %s", s->name);
    if (rc)
        image_stream_close(s);
    return rc;
}

int image_stream_read(struct image_stream *s, void *buf, size_t len, uint64_t off, struct cb_error *err)
{
    if (off > s->meta.size || len > s->meta.size - off)
        return cb_error_set(err, -EINVAL, "%s: read past the end of the disk image", s->name);
    if (off < s->dpos - s->dlen)
        return cb_error_set(err, -ESPIPE, "%s: disk byte %llu was asked after byte %llu: a stream is read forward "
                            "only", s->name, (unsigned long long)off, (unsigned long long)(s->dpos - s->dlen));
    for (size_t done = 0; done < len;) {
        uint64_t at = off + done;
        if (at >= s->dpos) {
            int rc = next_data(s, err);
            if (rc)
                return rc;
            continue;
        }
        size_t in = (size_t)(at - (s->dpos - s->dlen)), n = s->dlen - in;
        if (n > len - done)
            n = len - done;
        memcpy((char *)buf + done, s->dbuf + in, n);
        done += n;
    }
    return off + len == s->meta.size && !s->ended ? read_end(s, err) : 0;
}

void image_stream_close(struct image_stream *s)
{
    img_meta_free(&s->meta);
    ZSTD_freeDCtx(s->zstd);
    free(s->in);
    free(s->dbuf);
    free(s->seen);
    s->zstd = NULL;
    s->in = s->dbuf = NULL;
    s->seen = NULL;
}

static int source_read(void *ctx, void *buf, size_t len, uint64_t off, char *why, size_t why_len)
{
    struct cb_error err = { 0 };
    return copy_source_image_rc(image_stream_read(ctx, buf, len, off, &err), err.msg, why, why_len);
}

static const struct engine_source_ops source_ops = { .read = source_read, .read_once = true };

struct engine_source image_stream_source(struct image_stream *s, struct io_dev *dev)
{
    return (struct engine_source){ .ops = &source_ops, .ctx = s, .dev = dev };
}
