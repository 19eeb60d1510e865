#include "clone/fs/owners.h"
#include "clone/fs/owners_part.h"
#include "clone/fs/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- partitions ---- */

/* Which filesystem the partition's own first bytes name ("" none). */
static void probe(struct owners_part *p)
{
    unsigned char b[2048];
    p->fstype[0] = '\0';
    if (owners_read(p, b, sizeof(b), 0))
        return;
    size_t nfs;
    const struct fs_ops *const *fs = fs_ops_all(&nfs);
    for (size_t i = 0; !p->fstype[0] && i < nfs; i++) {
        char name[sizeof(p->fstype)];
        size_t n = fs[i]->magic.bytes ? strlen(fs[i]->magic.bytes) : 0;
        if (fs[i]->sniff && fs[i]->sniff(p, name, sizeof(name)))
            snprintf(p->fstype, sizeof(p->fstype), "%s", name);
        else if (n && !owners_read(p, b, n, fs[i]->magic.at) && !memcmp(b, fs[i]->magic.bytes, n))
            snprintf(p->fstype, sizeof(p->fstype), "%s", fs[i]->name);   /* only to say what cannot be looked into */
    }
}

/* The bad spans of map in [off, off+size), relative to off. */
static int spans_in(const struct block_map *map, uint64_t off, uint64_t size, struct bad_span **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    uint64_t pos, len;
    for (uint64_t at = off; at < off + size && map_find(map, at, "-", &pos, &len) && pos < off + size;
         at = pos + len) {
        uint64_t z = pos + len < off + size ? pos + len : off + size;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            struct bad_span *s = realloc(*out, cap * sizeof(*s));
            if (!s)
                return -ENOMEM;
            *out = s;
        }
        (*out)[(*n)++] = (struct bad_span){ pos - off, z - pos };
    }
    return 0;
}

static int find_in_part(struct owners_part p, const struct fs_owner_part *fp, const struct block_map *map)
{
    p.number = fp->number;
    p.off = fp->start;
    p.size = fp->size;
    struct bad_span *spans;
    int rc = spans_in(map, fp->start, fp->size, &spans, &p.nbad);
    p.bad = spans;
    if (rc || !p.nbad) {
        free(spans);
        return rc;
    }
    probe(&p);
    const struct fs_ops *fs = fs_ops_find(p.fstype);
    bool known = fs && fs->owners;
    int found = known ? fs->owners(&p) : 0;
    if (!found && fs && fs->holds_no_files)
        owners_add(&p, FS_OWNER_FREE, owners_bad_in(&p, 0, p.size), "%s", fs->holds_no_files);
    else if (!found && known)
        owners_add(&p, FS_OWNER_UNRESOLVED, owners_bad_in(&p, 0, p.size),
                   "could not be resolved: the %s filesystem's first sectors are damaged", p.fstype);
    else if (!found && p.fstype[0])
        owners_add(&p, FS_OWNER_UNRESOLVED, owners_bad_in(&p, 0, p.size),
                   "could not be resolved: clonebay cannot look into %s filesystems", p.fstype);
    else if (!found)
        owners_add(&p, FS_OWNER_UNRESOLVED, owners_bad_in(&p, 0, p.size), "could not be resolved: %s",
                   owners_bad_in(&p, 0, 128 << 10) ? "no filesystem was recognised, and its first sectors are "
                   "among the unreadable ones" : "no filesystem clonebay can look into (ext2/3/4, FAT, NTFS, "
                   "ISO 9660) was found in it");
    free(spans);
    return p.rc;
}

/* Bytes of [pos, pos+len) inside some partition: hybrid discs nest theirs. */
static uint64_t covered(const struct fs_owner_part *parts, size_t n, uint64_t pos, uint64_t len)
{
    uint64_t done = 0, at = pos, end = pos + len;
    while (at < end) {
        /* The partition holding at that reaches furthest, else the next one to start. */
        uint64_t reach = at, next = end;
        for (size_t i = 0; i < n; i++) {
            uint64_t a = parts[i].start, z = parts[i].start + parts[i].size;
            if (a <= at && z > reach)
                reach = z;
            else if (a > at && a < next)
                next = a;
        }
        if (reach > at) {
            reach = reach < end ? reach : end;
            done += reach - at;
            at = reach;
        } else {
            at = next;
        }
    }
    return done;
}

static int fd_read(void *ctx, void *buf, size_t len, uint64_t off)
{
    ssize_t r = pread(*(int *)ctx, buf, len, (off_t)off);
    return r == (ssize_t)len ? 0 : r < 0 ? -errno : -EIO;
}

int fs_owners_find(const char *path, const struct fs_owner_part *parts, size_t nparts,
                   const struct block_map *map, struct fs_owner_list *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        int rc = fs_owners_find_fn(fd_read, &fd, path, parts, nparts, map, out);
        close(fd);
        return rc;
    }
    /* Nothing can be looked up: every bad range says why. */
    int e = errno;
    (void)parts, (void)nparts;
    *out = (struct fs_owner_list){ 0 };
    struct owners_part p = { .name = path, .size = map->size, .out = out };
    uint64_t pos, len;
    for (uint64_t at = 0; !p.rc && map_find(map, at, "-", &pos, &len); at = pos + len)
        owners_add(&p, FS_OWNER_UNRESOLVED, len, "could not be resolved: the copy %s cannot be opened (%s)", path,
                   strerror(e));
    free(out->slots);
    out->slots = NULL;
    return p.rc;
}

int fs_owners_find_fn(fs_owners_read_fn rd, void *ctx, const char *name, const struct fs_owner_part *parts,
                      size_t nparts, const struct block_map *map, struct fs_owner_list *out)
{
    *out = (struct fs_owner_list){ 0 };
    struct fs_owner_part whole = { .number = 0, .start = 0, .size = map->size };
    if (!nparts) {
        parts = &whole;
        nparts = 1;
    }
    int rc = 0;
    struct owners_part disk = { .rd = rd, .rctx = ctx, .name = name, .size = map->size, .out = out };
    /* Outside every partition: walk the bad ranges, less what partitions cover. */
    uint64_t pos, len;
    for (uint64_t at = 0; rc == 0 && map_find(map, at, "-", &pos, &len); at = pos + len) {
        owners_add(&disk, FS_OWNER_OUTSIDE, len - covered(parts, nparts, pos, len), "outside every partition");
        rc = disk.rc;
    }
    for (size_t i = 0; rc == 0 && i < nparts; i++)
        rc = find_in_part(disk, &parts[i], map);
    fs_owner_list_finish(out);
    return rc;
}

