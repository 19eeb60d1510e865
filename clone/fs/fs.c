#include "clone/fs/fs.h"
#include "common/run_tool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Ordered as fs_owners' probe tries them: NTFS and FAT boot sectors both end
 * in 55 AA, and only NTFS names itself at byte 3. */
static const struct fs_ops *const table[] = {
    &fs_ext_ops, &fs_ntfs_ops, &fs_fat_ops, &fs_iso9660_ops,
    &fs_exfat_ops, &fs_xfs_ops, &fs_btrfs_ops, &fs_swap_ops, &fs_luks_ops, &fs_bitlocker_ops,
};

const struct fs_ops *const *fs_ops_all(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}

const struct fs_ops *fs_ops_find(const char *fstype)
{
    for (size_t i = 0; fstype && fstype[0] && i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i]->probe(fstype))
            return table[i];
    return NULL;
}

int fs_used_trusted(const char *path, uint64_t off, uint64_t size, const char *fstype, char *why, size_t why_len)
{
    const struct fs_ops *fs = fs_ops_find(fstype);
    why[0] = '\0';
    return fs && fs->trusted ? fs->trusted(path, off, size, why, why_len) : 1;
}

int fs_used_mark(const char *path, uint64_t off, uint64_t size, const char *fstype,
                 struct block_map *domain, char *why, size_t why_len)
{
    const struct fs_ops *fs = fs_ops_find(fstype);
    why[0] = '\0';
    if (!fs || !fs->used)
        return 0;
    int rc = fs->trusted ? fs->trusted(path, off, size, why, why_len) : 1;
    return rc <= 0 ? rc : fs->used(path, off, size, domain, why, why_len);
}

int fs_used_mark_resized(const char *path, uint64_t off, uint64_t size, const char *fstype,
                         struct block_map *domain, char *why, size_t why_len)
{
    const struct fs_ops *fs = fs_ops_find(fstype);
    if (fs && fs->used && fs->resize_marks_dirty) {
        why[0] = '\0';
        return fs->used(path, off, size, domain, why, why_len);
    }
    return fs_used_mark(path, off, size, fstype, domain, why, why_len);
}

bool fs_used_understood(const char *fstype)
{
    const struct fs_ops *fs = fs_ops_find(fstype);
    return fs && fs->used;
}

const char *fs_encrypted(const char *fstype)
{
    const struct fs_ops *fs = fs_ops_find(fstype);
    return fs ? fs->encrypted : NULL;
}

enum layout_fit fs_resize_fit(const char *fstype)
{
    const struct fs_ops *fs = fs_ops_find(fstype);
    return fs && fs->resize ? FIT_ANY : FIT_FIXED;
}

int fs_resize_min(const char *path, uint64_t off, uint64_t size, const char *fstype, const char *node,
                  uint64_t *min)
{
    const struct fs_ops *fs = fs_ops_find(fstype);
    if (!fs || !fs->resize || !fs->min_size) {
        *min = size;
        return 0;
    }
    return fs->min_size(path, off, size, node, min);
}

int fs_run_step(const char *const argv[], const char *node, int ok_max, char *log, size_t log_len,
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
    const struct fs_ops *fs = fs_ops_find(fstype);
    if (!fs || !fs->resize)
        return cb_error_set(err, -EOPNOTSUPP, "clonebay cannot resize a %s filesystem", fstype);
    return fs->resize(node, new_size, uuid, label, log, log_len, err);
}
