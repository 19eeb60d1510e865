#include "clone/fs/ntfs.h"
#include "clone/fs/fs.h"
#include "clone/fs/owners_part.h"
#include "common/run_tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
/* libntfs-3g's headers expect its config.h; these say what it would. */
#define HAVE_STDINT_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_STAT_H 1
#include <ntfs-3g/volume.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/logfile.h>

/* The partition as libntfs-3g's device: reads only, at an offset. */
struct part_dev {
    int fd;
    uint64_t off, size;
    int64_t pos;
    fs_ntfs_read_fn rd;     /* when not NULL, read through it (an image), not fd */
    void *rctx;
};

static struct part_dev *pd(struct ntfs_device *dev) { return dev->d_private; }

static int p_open(struct ntfs_device *dev, int flags)
{
    if ((flags & O_ACCMODE) != O_RDONLY) {
        errno = EROFS;
        return -1;
    }
    NDevSetOpen(dev);
    NDevSetReadOnly(dev);
    return 0;
}

static int p_close(struct ntfs_device *dev)
{
    NDevClearOpen(dev);
    return 0;
}

static s64 p_seek(struct ntfs_device *dev, s64 offset, int whence)
{
    struct part_dev *p = pd(dev);
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? p->pos : (int64_t)p->size;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) {
        errno = EINVAL;
        return -1;
    }
    p->pos = base + offset;
    return p->pos;
}

static s64 p_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
    struct part_dev *p = pd(dev);
    if (offset < 0 || count < 0) {
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)offset >= p->size)
        return 0;
    if ((uint64_t)count > p->size - (uint64_t)offset)
        count = (s64)(p->size - (uint64_t)offset);
    if (p->rd) {
        int rc = p->rd(p->rctx, buf, (size_t)count, p->off + (uint64_t)offset);
        errno = -rc;
        return rc ? -1 : count;
    }
    return pread(p->fd, buf, (size_t)count, (off_t)(p->off + (uint64_t)offset));
}

static s64 p_read(struct ntfs_device *dev, void *buf, s64 count)
{
    s64 r = p_pread(dev, buf, count, pd(dev)->pos);
    if (r > 0)
        pd(dev)->pos += r;
    return r;
}

static s64 p_write(struct ntfs_device *dev, const void *buf, s64 count)
{
    (void)dev, (void)buf, (void)count;
    errno = EROFS;
    return -1;
}

static s64 p_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    (void)offset;
    return p_write(dev, buf, count);
}

static int p_sync(struct ntfs_device *dev)
{
    (void)dev;
    return 0;
}

static int p_stat(struct ntfs_device *dev, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_mode = S_IFREG | 0444;
    st->st_size = (off_t)pd(dev)->size;
    return 0;
}

static int p_ioctl(struct ntfs_device *dev, unsigned long request, void *argp)
{
    if (request == BLKGETSIZE64) {
        *(uint64_t *)argp = pd(dev)->size;
        return 0;
    }
    errno = ENOTTY;
    return -1;
}

static struct ntfs_device_operations part_ops = {
    .open = p_open, .close = p_close, .seek = p_seek, .read = p_read, .write = p_write,
    .pread = p_pread, .pwrite = p_pwrite, .sync = p_sync, .stat = p_stat, .ioctl = p_ioctl,
};

/* Mark the set bits of bitmap (bits [first, first+nbits)) as used clusters. */
static int mark_bits(const unsigned char *bm, int64_t first, int64_t nbits, uint64_t base, uint64_t csize,
                     struct block_map *domain)
{
    int64_t run = -1;
    for (int64_t i = 0; i <= nbits; i++) {
        bool set = i < nbits && (bm[i >> 3] >> (i & 7) & 1);
        if (set && run < 0)
            run = i;
        if (!set && run >= 0) {
            if (map_mark(domain, base + (uint64_t)(first + run) * csize, (uint64_t)(i - run) * csize,
                         MAP_FINISHED))
                return -ENOMEM;
            run = -1;
        }
    }
    return 0;
}

/* Mount [off, off+size) of path read-only through libntfs-3g. NULL when it
 * is not an NTFS libntfs-3g can read (why says so), p->fd -1 when path
 * cannot be opened (-errno in *rc). */
static ntfs_volume *mount_part(const char *path, uint64_t off, uint64_t size, struct part_dev *p, int *rc,
                               char *why, size_t why_len)
{
    *p = (struct part_dev){ .off = off, .size = size };
    *rc = 0;
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0) {
        *rc = -errno;
        snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    /* libntfs-3g would explain itself on stderr: the why string does it here. */
    ntfs_log_set_handler(ntfs_log_handler_null);
    struct ntfs_device *dev = ntfs_device_alloc(path, 0, &part_ops, p);
    ntfs_volume *vol = dev ? ntfs_device_mount(dev, NTFS_MNT_RDONLY) : NULL;
    if (!vol) {
        snprintf(why, why_len, "libntfs-3g cannot read the NTFS at byte %llu of %s: %s", (unsigned long long)off,
                 path, strerror(errno));
        if (dev)
            ntfs_device_free(dev);
        close(p->fd);
        p->fd = -1;
    }
    return vol;
}

/* A $LogFile with changes not yet written to their home: read-only mounts
 * skip this check, read-write ones (and Windows) replay or refuse. */
static bool logfile_unclean(ntfs_volume *vol)
{
    ntfs_inode *ni = ntfs_inode_open(vol, FILE_LogFile);
    ntfs_attr *na = ni ? ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0) : NULL;
    RESTART_PAGE_HEADER *rp = NULL;
    bool unclean = na && (!ntfs_check_logfile(na, &rp) || !ntfs_is_logfile_clean(na, rp));
    free(rp);
    if (na)
        ntfs_attr_close(na);
    if (ni)
        ntfs_inode_close(ni);
    return unclean;
}

/* Why the volume's $Bitmap may not show every cluster in use ("" when not). */
static const char *distrust(ntfs_volume *vol)
{
    if (vol->flags & VOLUME_IS_DIRTY)
        return "it is marked dirty (Windows was not shut down cleanly, or chkdsk is due), so its cluster bitmap "
               "cannot be trusted";
    if (ntfs_volume_check_hiberfile(vol, 0) < 0 && errno == EPERM)
        return "Windows is hibernated on it (or was shut down with Fast Startup), so its cluster bitmap cannot be "
               "trusted";
    if (logfile_unclean(vol))
        return "its $LogFile holds changes Windows has not written yet (it was not shut down cleanly), so its "
               "cluster bitmap cannot be trusted";
    return "";
}

static void unmount_part(ntfs_volume *vol, struct part_dev *p)
{
    ntfs_umount(vol, FALSE);
    close(p->fd);
}

static int ntfs_trusted(const char *path, uint64_t off, uint64_t size, char *why, size_t why_len)
{
    struct part_dev p;
    int rc;
    ntfs_volume *vol = mount_part(path, off, size, &p, &rc, why, why_len);
    if (!vol) {
        if (!rc)
            why[0] = '\0';         /* not readable at all: ntfs_used says so */
        return rc ? rc : 1;
    }
    snprintf(why, why_len, "%s", distrust(vol));
    unmount_part(vol, &p);
    return why[0] ? 0 : 1;
}

/* The clusters its $Bitmap says are used, and the backup boot sector.
 * fs_used_mark asks ntfs_trusted first; a volume ntfsresize just shrank is
 * read without (it marks it dirty on purpose, so Windows runs chkdsk once,
 * and its $Bitmap is the one ntfsresize wrote). */
static int ntfs_used(const char *path, uint64_t off, uint64_t size, struct block_map *domain, char *why,
                     size_t why_len)
{
    struct part_dev p;
    int rc;
    ntfs_volume *vol = mount_part(path, off, size, &p, &rc, why, why_len);
    if (!vol)
        return rc;
    why[0] = '\0';
    rc = 1;
    uint64_t csize = vol->cluster_size;
    int64_t nclusters = vol->nr_clusters;
    enum { CHUNK = 1 << 16 };       /* bytes of bitmap per read: 512 Ki clusters */
    unsigned char *bm = malloc(CHUNK);
    for (int64_t c = 0; bm && rc == 1 && c < nclusters; c += CHUNK * 8) {
        int64_t bits = nclusters - c < CHUNK * 8 ? nclusters - c : CHUNK * 8;
        s64 want = (bits + 7) / 8;
        if (ntfs_attr_pread(vol->lcnbmp_na, c / 8, want, bm) != want) {
            snprintf(why, why_len, "the $Bitmap of the NTFS at byte %llu of %s cannot be read",
                     (unsigned long long)off, path);
            rc = -EIO;
        } else if (mark_bits(bm, c, bits, off, csize, domain)) {
            rc = -ENOMEM;
        }
    }
    if (!bm)
        rc = -ENOMEM;
    /* The backup boot sector lies past the last cluster, at the partition's end. */
    uint64_t tail = (uint64_t)nclusters * csize;
    if (rc == 1 && tail < size && map_mark(domain, off + tail, size - tail, MAP_FINISHED))
        rc = -ENOMEM;
    free(bm);
    unmount_part(vol, &p);
    return rc;
}

struct fs_ntfs_vol {
    struct part_dev p;      /* libntfs-3g's device points here: it must not move */
    ntfs_volume *vol;
};

struct fs_ntfs_vol *fs_ntfs_open(fs_ntfs_read_fn rd, void *ctx, const char *name, uint64_t off, uint64_t size,
                                 char *why, size_t why_len)
{
    struct fs_ntfs_vol *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    v->p = (struct part_dev){ .fd = -1, .off = off, .size = size, .rd = rd, .rctx = ctx };
    ntfs_log_set_handler(ntfs_log_handler_null);
    struct ntfs_device *dev = ntfs_device_alloc(name, 0, &part_ops, &v->p);
    v->vol = dev ? ntfs_device_mount(dev, NTFS_MNT_RDONLY) : NULL;
    if (!v->vol) {
        snprintf(why, why_len, "libntfs-3g cannot read the NTFS at byte %llu of %s: %s", (unsigned long long)off,
                 name, strerror(errno));
        if (dev)
            ntfs_device_free(dev);
        free(v);
        return NULL;
    }
    return v;
}

struct _ntfs_volume *fs_ntfs_volume(const struct fs_ntfs_vol *v)
{
    return v->vol;
}

void fs_ntfs_close(struct fs_ntfs_vol *v)
{
    if (!v)
        return;
    unmount_part(v->vol, &v->p);
    free(v);
}

static bool ntfs_probe(const char *fstype)
{
    return !strcmp(fstype, "ntfs");
}

/* The least an NTFS using `used` bytes of clusters fits in (when ntfsresize
 * cannot be asked: an image, or no partition node). */
static uint64_t ntfs_min_of_used(uint64_t used)
{
    return used + used / 10 + (32u << 20);     /* the MFT zone and the moves ntfsresize makes */
}

/* What its $Bitmap says is used, with ntfs_min_of_used's margin;
 * ntfsresize --info, read-only, has the last word when the partition has a
 * node. */
static int ntfs_min(const char *path, uint64_t off, uint64_t size, const char *node, uint64_t *min)
{
    struct block_map m;
    char why[300];
    if (map_init(&m, off + size, MAP_NONTRIED))
        return -ENOMEM;
    int rc = ntfs_trusted(path, off, size, why, sizeof(why));
    if (rc > 0)
        rc = ntfs_used(path, off, size, &m, why, sizeof(why));
    uint64_t used = 0, p, n;
    for (uint64_t at = off; rc > 0 && map_find(&m, at, "+", &p, &n); at = p + n)
        used += n;
    map_free(&m);
    if (rc <= 0)
        return rc < 0 ? rc : -EINVAL;
    *min = ntfs_min_of_used(used);
    char out[4096];
    const char *argv[] = { "ntfsresize", "--info", "--force", "--no-progress-bar", node, NULL };
    const char *key = "You might resize at ";
    if (node[0] && run_tool(argv, out, sizeof(out)) == 0 && strstr(out, key)) {
        uint64_t bytes = strtoull(strstr(out, key) + strlen(key), NULL, 10);
        if (bytes + (16u << 20) > *min)
            *min = bytes + (16u << 20);     /* room to write to after the first boot */
    }
    return 0;
}

/* A scratch file is shrunk to new_size; a partition is grown to fill itself. */
static int ntfs_resize(const char *node, uint64_t new_size, const char *uuid, const char *label, char *log,
                       size_t log_len, struct cb_error *err)
{
    (void)uuid, (void)label;
    struct stat st;
    char size[32];
    snprintf(size, sizeof(size), "%llu", (unsigned long long)new_size);
    const char *shrink[] = { "ntfsresize", "--force", "--force", "--no-progress-bar", "--size", size, node, NULL };
    const char *grow[] = { "ntfsresize", "--force", "--force", "--no-progress-bar", node, NULL };
    bool file = stat(node, &st) == 0 && S_ISREG(st.st_mode);
    return fs_run_step(file ? shrink : grow, node, 0, log, log_len, err);
}

const struct fs_ops fs_ntfs_ops = {
    .name = "ntfs", .probe = ntfs_probe, .holds_files = true,
    .trusted = ntfs_trusted, .used = ntfs_used, .resize_marks_dirty = true,
    .min_size = ntfs_min, .min_of_used = ntfs_min_of_used, .resize = ntfs_resize, .resizer = "ntfsresize",
    /* Shrinking is refused with Windows' own remedy; growing waits too:
     * ntfsresize would act on the unreplayed volume. */
    .untrusted_fit = FIT_FIXED, .untrusted_no_grow = true,
    .remedy = "shut Windows down fully (Shift+Shut down, or turn Fast Startup off) or run chkdsk /f on it",
    .grow_later = "extend it in Windows once Windows has been shut down fully",
    .sniff = ntfs_sniff, .owners = fs_owners_ntfs,
    .mount = { .kernel = "ntfs3", .fuse = "ntfs-3g", .fuse_opts = "ro", .fuse_first = true,
               .missing = "NTFS cannot be mounted here: ntfs-3g is not installed and the kernel has no ntfs3" },
};
