#include "clone/fs/fs.h"
#include "clone/fs/fat_resize.h"
#include "clone/fs/ntfs.h"
#include "clone/fs/used.h"
#include "common/run_tool.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


enum layout_fit fs_resize_fit(const char *fstype)
{
    if (fs_is_ext(fstype) || !strcmp(fstype, "swap") || !strcmp(fstype, "ntfs") || !strcmp(fstype, "vfat"))
        return FIT_ANY;
    return FIT_FIXED;
}

uint64_t fs_resize_ntfs_min_of_used(uint64_t used)
{
    return used + used / 10 + (32u << 20);     /* the MFT zone and the moves ntfsresize makes */
}

/* NTFS: what its $Bitmap says is used, with fs_resize_ntfs_min_of_used's
 * margin; ntfsresize --info, read-only, has the last word when the partition
 * has a node. */
static int ntfs_min(const char *path, uint64_t off, uint64_t size, const char *node, uint64_t *min)
{
    struct block_map m;
    char why[300];
    if (map_init(&m, off + size, MAP_NONTRIED))
        return -ENOMEM;
    int rc = fs_ntfs_used(path, off, size, &m, why, sizeof(why));
    uint64_t used = 0, p, n;
    for (uint64_t at = off; rc > 0 && map_find(&m, at, "+", &p, &n); at = p + n)
        used += n;
    map_free(&m);
    if (rc <= 0)
        return rc < 0 ? rc : -EINVAL;
    *min = fs_resize_ntfs_min_of_used(used);
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

/* ext: from the superblock. What is used, a twentieth more and 4 MiB for the
 * metadata and journal moves resize2fs makes, and enough groups for the inodes
 * in use. */
static int ext_min(const char *path, uint64_t off, const char *node, uint64_t *min)
{
    unsigned char sb[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t r = pread(fd, sb, sizeof(sb), (off_t)(off + 1024));
    close(fd);
    if (r != (ssize_t)sizeof(sb))
        return r < 0 ? -errno : -EIO;
    if (le_get16(sb + 56) != 0xEF53)
        return -EINVAL;
    bool b64 = le_get32(sb + 96) & 0x80;
    uint64_t bs = 1024ull << le_get32(sb + 24);
    uint64_t blocks = le_get32(sb + 4) | (b64 ? (uint64_t)le_get32(sb + 0x150) << 32 : 0);
    uint64_t freeb = le_get32(sb + 12) | (b64 ? (uint64_t)le_get32(sb + 0x158) << 32 : 0);
    uint64_t inodes = le_get32(sb + 0), freei = le_get32(sb + 16);
    uint64_t bpg = le_get32(sb + 32), ipg = le_get32(sb + 40);
    if (bs > 65536 || !bpg || !ipg || freeb > blocks || freei > inodes)
        return -EINVAL;
    uint64_t used = (blocks - freeb) * bs;
    uint64_t groups = (inodes - freei + ipg - 1) / ipg;
    uint64_t by_inodes = groups ? ((groups - 1) * bpg + 1) * bs : 0;
    uint64_t m = used + used / 20 + (4u << 20);
    *min = m > by_inodes ? m : by_inodes;
    /* resize2fs has the last word: its own estimate, read-only (-P). */
    char out[1024];
    const char *argv[] = { "resize2fs", "-P", node, NULL };
    const char *key = "minimum size of the filesystem: ";
    if (node[0] && run_tool(argv, out, sizeof(out)) == 0 && strstr(out, key)) {
        uint64_t blocks = strtoull(strstr(out, key) + strlen(key), NULL, 10);
        if (blocks * bs > *min)
            *min = blocks * bs;
    }
    return 0;
}

int fs_resize_min(const char *path, uint64_t off, uint64_t size, const char *fstype, const char *node,
                  uint64_t *min)
{
    switch (fs_resize_fit(fstype)) {
    case FIT_ANY:
        if (fs_is_ext(fstype))
            return ext_min(path, off, node, min);
        if (!strcmp(fstype, "ntfs"))
            return ntfs_min(path, off, size, node, min);
        if (!strcmp(fstype, "vfat")) {
            uint64_t max;
            char why[300];
            return fat_resize_limits(path, off, size, min, &max, why, sizeof(why));
        }
        *min = 1u << 20;        /* swap: only its header matters */
        return 0;
    default:
        *min = size;
        return 0;
    }
}

/* Run one tool on node, its command line and output going to log. Exit codes
 * up to ok_max count as success (e2fsck: 1 means "corrected"). */
static int step(const char *const argv[], const char *node, int ok_max, char *log, size_t log_len,
                struct cb_error *err)
{
    size_t n = strlen(log);
    for (int i = 0; argv[i] && n < log_len; i++)
        n += (size_t)snprintf(log + n, log_len - n, "%s%s", i ? " " : "$ ", argv[i]);
    if (n < log_len)
        n += (size_t)snprintf(log + n, log_len - n, "\n");
    char out[2048];
    int rc = run_tool(argv, out, sizeof(out));
    if (n < log_len)
        snprintf(log + n, log_len - n, "%s", out);
    if (rc >= 0 && rc <= ok_max)
        return 0;
    /* The tool's last line usually says why. */
    size_t k = strlen(out);
    while (k && (out[k - 1] == '\n' || out[k - 1] == ' '))
        out[--k] = '\0';
    const char *line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    if (rc < 0)
        return cb_error_set(err, rc, "%s could not run on %s: %s", argv[0], node, strerror(-rc));
    return cb_error_set(err, -EIO, "%s on %s failed with status %d: %s", argv[0], node, rc,
                        line[0] ? line : "(no output)");
}

int fs_resize_run(const char *node, const char *fstype, uint64_t new_size, const char *uuid, const char *label,
                  char *log, size_t log_len, struct cb_error *err)
{
    if (fs_is_ext(fstype)) {
        char size[32];
        snprintf(size, sizeof(size), "%lluK", (unsigned long long)(new_size / 1024));
        const char *fsck[] = { "e2fsck", "-f", "-y", node, NULL };
        const char *resize[] = { "resize2fs", node, size, NULL };
        int rc = step(fsck, node, 1, log, log_len, err);
        return rc ? rc : step(resize, node, 0, log, log_len, err);
    }
    if (!strcmp(fstype, "ntfs")) {
        /* A scratch file is shrunk to new_size; a partition is grown to fill itself. */
        struct stat st;
        char size[32];
        snprintf(size, sizeof(size), "%llu", (unsigned long long)new_size);
        const char *shrink[] = { "ntfsresize", "--force", "--force", "--no-progress-bar", "--size", size, node, NULL };
        const char *grow[] = { "ntfsresize", "--force", "--force", "--no-progress-bar", node, NULL };
        bool file = stat(node, &st) == 0 && S_ISREG(st.st_mode);
        return step(file ? shrink : grow, node, 0, log, log_len, err);
    }
    if (!strcmp(fstype, "vfat")) {
        /* clonebay's own: fatresize and libparted's resizer fail on simple layouts. */
        char note[300];
        size_t n = strlen(log);
        if (n < log_len)
            n += (size_t)snprintf(log + n, log_len - n, "$ (clonebay) resize the FAT in %s to %llu bytes\n", node,
                                  (unsigned long long)new_size);
        int rc = fat_resize_run(node, new_size, note, sizeof(note), err);
        if (rc > 0 && n < log_len)
            snprintf(log + n, log_len - n, "%s\n", note);
        return rc > 0 ? 0 : rc;
    }
    if (!strcmp(fstype, "swap")) {
        const char *with_label[] = { "mkswap", "-U", uuid, "-L", label, node, NULL };
        const char *without[] = { "mkswap", "-U", uuid, node, NULL };
        return step(label[0] ? with_label : without, node, 0, log, log_len, err);
    }
    return cb_error_set(err, -EOPNOTSUPP, "clonebay cannot resize a %s filesystem", fstype);
}
