#include "clone/image_read.h"
#include "clone/block_map.h"
#include "clone/progress.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define ZSTD_MAGIC 0xFD2FB528u

static int read_exact(struct image *img, void *buf, size_t len, uint64_t off, const char *what,
                      struct cb_error *err)
{
    ssize_t r = part_file_pread(&img->pf, buf, len, off);
    if (r == (ssize_t)len)
        return 0;
    const char *why = part_file_why(&img->pf);
    if (r < 0)
        return cb_error_set(err, (int)r, "%s: cannot read %s at byte %llu: %s", img->pf.path, what,
                            (unsigned long long)off, why ? why : strerror((int)-r));
    return cb_error_set(err, -EIO, "%s: %s at byte %llu is cut short: the image is truncated", img->pf.path,
                        what, (unsigned long long)off);
}

/* Read and parse the metadata frame at off (size csize from the seek table). */
static int read_meta(struct image *img, uint64_t off, uint32_t csize, bool trailer, struct cb_error *err)
{
    const char *what = trailer ? "the trailer" : "the header";
    unsigned char h[8];
    int rc = read_exact(img, h, sizeof(h), off, what, err);
    if (rc)
        return rc;
    uint32_t len = img_le32(h + 4);
    if (img_le32(h) != IMG_META_MAGIC || len > IMG_META_MAX || (uint64_t)len + 8 != csize)
        return cb_error_set(err, -EINVAL, "%s: %s at byte %llu is not a clonebay metadata frame: the image is "
                            "damaged or not a clonebay image", img->pf.path, what, (unsigned long long)off);
    char *text = malloc(len ? len : 1);
    if (!text)
        return cb_error_set(err, -ENOMEM, "out of memory");
    rc = read_exact(img, text, len, off + 8, what, err);
    if (!rc)
        rc = img_meta_parse(&img->meta, text, len, trailer, img->pf.path, err);
    free(text);
    return rc;
}

static int not_an_image(struct image *img, struct cb_error *err)
{
    unsigned char m[4] = { 0 };
    const char *why = "it does not end with a zstd seek table";
    if (part_file_pread(&img->pf, m, 4, 0) == 4) {
        if (img_le32(m) == ZSTD_MAGIC)
            why = "it is a zstd file without a seek table (made by another tool, or cut short)";
        else if (img_le32(m) == IMG_META_MAGIC)
            why = "it starts like a clonebay image but its end is missing: truncated (an unfinished copy?)";
    }
    return cb_error_set(err, -EINVAL, "%s is not a usable clonebay image: %s", img->pf.path, why);
}

static int read_seek_table(struct image *img, struct img_entry **out, uint32_t *n, bool *checksums,
                           uint64_t *table_at, struct cb_error *err)
{
    uint64_t size = img->pf.size;
    unsigned char f[IMG_SEEK_FOOTER];
    if (size < 8 + IMG_SEEK_FOOTER || read_exact(img, f, sizeof(f), size - IMG_SEEK_FOOTER, "the seek table", err) ||
        img_le32(f + 5) != IMG_SEEKABLE_MAGIC) {
        cb_error_clear(err);
        return not_an_image(img, err);
    }
    uint32_t count = img_le32(f);
    unsigned char desc = f[4];
    if (desc & 0x7c)
        return cb_error_set(err, -EINVAL, "%s: the seek table uses features this clonebay does not know "
                            "(descriptor 0x%02x)", img->pf.path, desc);
    *checksums = desc & 0x80;
    size_t esz = *checksums ? 12 : 8;
    uint64_t payload = (uint64_t)count * esz + IMG_SEEK_FOOTER;
    if (count < 2 || count > 0x8000000u || payload + 8 > size)
        return cb_error_set(err, -EINVAL, "%s: the seek table claims %u frames, which cannot fit in %llu bytes: "
                            "damaged or truncated", img->pf.path, count, (unsigned long long)size);
    *table_at = size - payload - 8;
    unsigned char h[8];
    int rc = read_exact(img, h, 8, *table_at, "the seek table", err);
    if (rc)
        return rc;
    if (img_le32(h) != IMG_SEEK_MAGIC || img_le32(h + 4) != payload)
        return cb_error_set(err, -EINVAL, "%s: the seek table's frame header at byte %llu is damaged",
                            img->pf.path, (unsigned long long)*table_at);
    unsigned char *raw = malloc((size_t)count * esz);
    struct img_entry *e = calloc(count, sizeof(*e));
    if (!raw || !e) {
        free(raw);
        free(e);
        return cb_error_set(err, -ENOMEM, "out of memory for a seek table of %u frames", count);
    }
    rc = read_exact(img, raw, (size_t)count * esz, *table_at + 8, "the seek table", err);
    for (uint32_t i = 0; !rc && i < count; i++) {
        e[i].csize = img_le32(raw + i * esz);
        e[i].dsize = img_le32(raw + i * esz + 4);
        e[i].checksum = *checksums ? img_le32(raw + i * esz + 8) : 0;
    }
    free(raw);
    if (rc) {
        free(e);
        return rc;
    }
    *out = e;
    *n = count;
    return 0;
}

int image_open(struct image *img, const char *path, struct cb_error *err)
{
    memset(img, 0, sizeof(*img));
    img->cached = -1;
    int rc = part_file_open(&img->pf, path, err);
    if (rc)
        return rc;
    struct img_entry *e = NULL;
    uint32_t n = 0;
    bool checksums = false;
    uint64_t table_at = 0;
    rc = read_seek_table(img, &e, &n, &checksums, &table_at, err);
    if (rc)
        goto fail;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += e[i].csize;
    if (sum != table_at) {
        rc = cb_error_set(err, -EINVAL, "%s: the seek table's frames add up to %llu bytes but the data ends at "
                          "byte %llu: the image is damaged or truncated", img->pf.path,
                          (unsigned long long)sum, (unsigned long long)table_at);
        goto fail;
    }
    if ((rc = read_meta(img, 0, e[0].csize, false, err)))
        goto fail;
    if ((rc = read_meta(img, table_at - e[n - 1].csize, e[n - 1].csize, true, err)))
        goto fail;
    if (!img->meta.complete) {
        rc = cb_error_set(err, -EINVAL, "%s: the image was not finished (its trailer says incomplete)", img->pf.path);
        goto fail;
    }
    img->frames = calloc(n, sizeof(*img->frames));
    size_t bound = ZSTD_compressBound(img->meta.frame_size) + 64;
    if (!img->frames) {
        rc = cb_error_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    uint64_t cpos = e[0].csize, dpos = 0;
    for (uint32_t i = 1; i + 1 < n; i++) {
        if (e[i].dsize > img->meta.frame_size || e[i].csize > bound || e[i].csize < 9) {
            rc = cb_error_set(err, -EINVAL, "%s: seek table entry %u (image byte %llu) is damaged: %u bytes "
                              "holding %u", img->pf.path, i, (unsigned long long)cpos, e[i].csize, e[i].dsize);
            goto fail;
        }
        if (e[i].dsize)
            img->frames[img->nframes++] = (struct img_frame){ cpos, dpos, e[i].csize, e[i].dsize, e[i].checksum };
        cpos += e[i].csize;
        dpos += e[i].dsize;
        img->data_bytes += e[i].csize;
    }
    if (dpos != img->meta.size) {
        rc = cb_error_set(err, -EINVAL, "%s: the frames hold %llu bytes of disk but the header says %llu: "
                          "damaged", img->pf.path, (unsigned long long)dpos, (unsigned long long)img->meta.size);
        goto fail;
    }
    img->zstd = ZSTD_createDCtx();
    img->cbuf_cap = bound;
    img->cbuf = malloc(bound);
    img->dbuf = malloc(img->meta.frame_size);
    if (!img->zstd || !img->cbuf || !img->dbuf) {
        rc = cb_error_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    free(e);
    return 0;
fail:
    free(e);
    image_close(img);
    return rc;
}

void image_close(struct image *img)
{
    part_file_close(&img->pf);
    img_meta_free(&img->meta);
    free(img->frames);
    ZSTD_freeDCtx(img->zstd);
    free(img->cbuf);
    free(img->dbuf);
    img->frames = NULL;
    img->zstd = NULL;
    img->cbuf = img->dbuf = NULL;
}

int image_load_frame(struct image *img, uint32_t i, struct cb_error *err)
{
    if ((int64_t)i == img->cached)
        return 0;
    struct img_frame *f = &img->frames[i];
    img->cached = -1;
    int rc = read_exact(img, img->cbuf, f->csize, f->cpos, "a data frame", err);
    if (rc)
        return rc;
    const char *why = NULL;
    size_t r = 0;
    if (img_le32(img->cbuf) != ZSTD_MAGIC) {
        why = "no zstd frame starts there";
    } else if (ZSTD_getFrameContentSize(img->cbuf, f->csize) != f->dsize) {
        why = "its size does not match the seek table";
    } else {
        r = ZSTD_decompressDCtx(img->zstd, img->dbuf, f->dsize, img->cbuf, f->csize);
        if (ZSTD_isError(r))
            why = ZSTD_getErrorName(r);
        else if (r != f->dsize)
            why = "it decodes to the wrong size";
        else if (f->checksum && img_le32(img->cbuf + f->csize - 4) != f->checksum)
            why = "its checksum does not match the seek table";
    }
    if (why)
        return cb_error_set(err, -EIO, "%s: frame %u (image bytes %llu-%llu, disk bytes %llu-%llu) is damaged: %s",
                            img->pf.path, i + 1, (unsigned long long)f->cpos,
                            (unsigned long long)(f->cpos + f->csize - 1), (unsigned long long)f->dpos,
                            (unsigned long long)(f->dpos + f->dsize - 1), why);
    img->cached = i;
    return 0;
}

uint32_t image_frame_of(const struct image *img, uint64_t off)
{
    uint32_t lo = 0, hi = img->nframes;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (img->frames[mid].dpos <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int image_read(struct image *img, void *buf, size_t len, uint64_t off, struct cb_error *err)
{
    if (off > img->meta.size || len > img->meta.size - off)
        return cb_error_set(err, -EINVAL, "%s: read past the end of the disk image", img->pf.path);
    size_t done = 0;
    while (done < len) {
        uint64_t at = off + done;
        uint32_t i = image_frame_of(img, at);
        int rc = image_load_frame(img, i, err);
        if (rc)
            return rc;
        const struct img_frame *f = &img->frames[i];
        size_t in = (size_t)(at - f->dpos), n = f->dsize - in;
        if (n > len - done)
            n = len - done;
        memcpy((char *)buf + done, img->dbuf + in, n);
        done += n;
    }
    return 0;
}

int image_check_all(struct image *img, struct copy_progress *progress, struct image_check *out)
{
    memset(out, 0, sizeof(*out));
    struct hash_ctx *h[HASH_COUNT] = { 0 };
    for (int a = 0; a < HASH_COUNT; a++)
        if (img->meta.digests[a][0] && !(h[a] = hash_new((enum hash_alg)a)))
            return -ENOMEM;
    if (progress) {
        progress_set_phase(progress, PHASE_VERIFY);
        atomic_store(&progress->bytes_total, img->meta.size);
        atomic_store(&progress->bytes_done, 0);
    }
    for (uint32_t i = 0; i < img->nframes; i++) {
        if (progress && atomic_load(&progress->cancel)) {
            out->cancelled = true;
            break;
        }
        struct cb_error err = { 0 };
        if (image_load_frame(img, i, &err)) {
            if (out->damaged < IMG_CHECK_MSGS)
                memcpy(out->msgs[out->damaged], err.msg, sizeof(err.msg));
            out->damaged++;
            continue;
        }
        for (int a = 0; a < HASH_COUNT; a++)
            if (h[a])
                hash_update(h[a], img->dbuf, img->frames[i].dsize);
        if (progress) {
            atomic_fetch_add(&progress->bytes_done, img->frames[i].dsize);
            progress_notify(progress);
        }
    }
    for (int a = 0; a < HASH_COUNT; a++) {
        if (!h[a])
            continue;
        hash_final_hex(h[a], out->digests[a]);
        hash_free(h[a]);
        if (!out->damaged && !out->cancelled && strcmp(out->digests[a], img->meta.digests[a]) != 0)
            out->mismatched++;
    }
    return 0;
}

int image_read_fn(void *img, void *buf, size_t len, uint64_t off)
{
    struct cb_error err = { 0 };
    return image_read(img, buf, len, off, &err);
}

int image_view(struct image *img, const struct img_range *r, size_t n, int *fd, struct cb_error *err)
{
    int mfd = memfd_create("clonebay-image-view", MFD_CLOEXEC);
    if (mfd < 0)
        return cb_error_set(err, -errno, "cannot make an in-memory view of %s: %s", img->pf.path, strerror(errno));
    int rc = 0;
    if (ftruncate(mfd, (off_t)img->meta.size) != 0)
        rc = cb_error_set(err, -errno, "cannot size the view of %s: %s", img->pf.path, strerror(errno));
    unsigned char *buf = malloc(1u << 20);
    if (!rc && !buf)
        rc = cb_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        uint64_t end = r[i].off + r[i].len < img->meta.size ? r[i].off + r[i].len : img->meta.size;
        for (uint64_t at = r[i].off; !rc && at < end;) {
            size_t len = end - at < (1u << 20) ? (size_t)(end - at) : 1u << 20;
            rc = image_read(img, buf, len, at, err);
            if (!rc && pwrite(mfd, buf, len, (off_t)at) != (ssize_t)len)
                rc = cb_error_set(err, -EIO, "cannot fill the in-memory view of %s", img->pf.path);
            at += len;
        }
    }
    free(buf);
    if (rc) {
        close(mfd);
        return rc;
    }
    *fd = mfd;
    return 0;
}

int image_used_mark(const struct image *img, uint64_t off, uint64_t size, struct block_map *map)
{
    const struct img_meta *m = &img->meta;
    for (size_t i = 0; i < m->nused; i++) {
        uint64_t a = m->used[i].off > off ? m->used[i].off : off;
        uint64_t b = m->used[i].off + m->used[i].len;
        if (b > off + size)
            b = off + size;
        if (a < b && map_mark(map, a, b - a, MAP_FINISHED))
            return -ENOMEM;
    }
    return m->nused > 0;
}

static int source_read(void *ctx, void *buf, size_t len, uint64_t off, char *why, size_t why_len)
{
    struct cb_error err = { 0 };
    return copy_source_image_rc(image_read(ctx, buf, len, off, &err), err.msg, why, why_len);
}

static const struct engine_source_ops source_ops = { .read = source_read };

struct engine_source image_source(struct image *img, struct io_dev *dev)
{
    return (struct engine_source){ .ops = &source_ops, .ctx = img, .dev = dev };
}
