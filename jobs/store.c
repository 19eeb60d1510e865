#include "jobs/store.h"

#include "clone/fs/fs.h"
#include "common/run_tool.h"
#include "common/safe_file.h"
#include "devices/dev_safety.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <unistd.h>

static bool holds_files(const char *fstype)
{
    const struct fs_ops *fs = fs_ops_find(fstype);
    return fs && fs->holds_files;
}

/* Where the filesystem on dev is mounted now ("" when nowhere). */
static void mounted_at(const char *dev, char *out, size_t len)
{
    out[0] = '\0';
    struct stat st;
    if (stat(dev, &st) != 0 || !S_ISBLK(st.st_mode))
        return;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    char line[2048];
    struct dev_mount m;
    while (fgets(line, sizeof(line), f))
        if (dev_mountinfo_parse_line(line, &m) == 0 && m.major == major(st.st_rdev) &&
            m.minor == minor(st.st_rdev)) {
            snprintf(out, len, "%s", m.target);
            break;
        }
    fclose(f);
}

static void add(struct store_choice *c, const struct dev_drive *d, const char *dev, const char *fstype,
                const char *label, uint64_t size)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->dev, sizeof(c->dev), "%s", dev);
    snprintf(c->fstype, sizeof(c->fstype), "%s", fstype);
    snprintf(c->label, sizeof(c->label), "%s", label);
    snprintf(c->model, sizeof(c->model), "%s", d->model);
    c->size = size;
    mounted_at(dev, c->mountpoint, sizeof(c->mountpoint));
}

size_t store_candidates(const struct dev_list *l, struct store_choice *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < l->count && n < max; i++) {
        const struct dev_drive *d = &l->drives[i];
        if (d->system || d->busy || d->is_optical || d->readonly)
            continue;
        if (holds_files(d->fstype))
            add(&out[n++], d, d->path, d->fstype, d->label, d->size);
        for (size_t p = 0; p < d->npart && n < max; p++) {
            const struct dev_partition *part = &d->parts[p];
            if (part->path[0] && holds_files(part->fstype))
                add(&out[n++], d, part->path, part->fstype, part->label, part->size);
        }
    }
    return n;
}

size_t store_safe_name(const char *src, char *out, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; src && src[i] && j + 1 < len; i++) {
        unsigned char ch = (unsigned char)src[i];
        out[j++] = (char)(isalnum(ch) || ch == '-' || ch == '_' || ch == '.' ? ch : '_');
    }
    if (len)
        out[j] = '\0';
    return j;
}

/* root/<label>, the label reduced to characters safe in a path; the device name without one. */
static void folder_for(const struct store_choice *c, const char *root, char *dir, size_t len)
{
    char name[64];
    size_t n = store_safe_name(c->label[0] ? c->label : strrchr(c->dev, '/') + 1, name, sizeof(name));
    if (!n || !strcmp(name, ".") || !strcmp(name, ".."))
        snprintf(name, sizeof(name), "%s", strrchr(c->dev, '/') + 1);
    snprintf(dir, len, "%s/%s", root, name);
}

int store_mount(const struct store_choice *c, const char *root, char *dir, size_t len, struct cb_error *err)
{
    char now[256];
    mounted_at(c->dev, now, sizeof(now));
    if (now[0]) {
        snprintf(dir, len, "%s", now);
        return 0;
    }
    folder_for(c, root, dir, len);
    mkdir(root, 0755);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cb_error_set(err, -errno, "cannot make the folder %s: %s", dir, strerror(errno));
    const struct fs_ops *fs = fs_ops_find(c->fstype);
    if (fs && fs->mount.fuse_first) {
        /* The kernel here has no NTFS driver that writes; ntfs-3g (FUSE) does. */
        char out[1024];
        const char *argv[] = { fs->mount.fuse, "-o", "noatime,nosuid,nodev,noexec", c->dev, dir, NULL };
        int rc = run_tool(argv, out, sizeof(out));
        if (rc != 0)
            return cb_error_set(err, rc < 0 ? rc : -EIO, "%s could not mount %s on %s: %s", fs->mount.fuse, c->dev,
                                dir, rc < 0 ? strerror(-rc) : out);
        return 0;
    }
    /* A drive brought to the bench may hold anything: its set-uid programs
     * and device nodes must not act on this machine as root's. */
    if (mount(c->dev, dir, c->fstype, MS_NOATIME | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        int e = errno;
        rmdir(dir);
        return cb_error_set(err, -e, "cannot mount %s (%s) on %s: %s", c->dev, c->fstype, dir, strerror(e));
    }
    return 0;
}

bool store_is_volatile(const char *path)
{
    struct statfs s;
    char probe[4096];
    snprintf(probe, sizeof(probe), "%s", path);
    /* The folder may not exist yet: ask the nearest one that does. */
    while (statfs(probe, &s) != 0) {
        char *slash = strrchr(probe, '/');
        if (!slash || slash == probe)
            return statfs("/", &s) == 0 && (s.f_type == TMPFS_MAGIC || s.f_type == RAMFS_MAGIC);
        *slash = '\0';
    }
    return s.f_type == TMPFS_MAGIC || s.f_type == RAMFS_MAGIC;
}

int store_copy_files(const char *from, const char *to)
{
    DIR *d = opendir(from);
    if (!d)
        return 0;
    mkdir(to, 0755);
    int copied = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char a[4400], b[4400];
        snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
        struct stat st;
        if (stat(a, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        int in = open(a, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        int out = safe_file_create(b, O_WRONLY, 0644);
        bool ok = in >= 0 && out >= 0;
        char buf[65536];
        ssize_t r;
        while (ok && (r = read(in, buf, sizeof(buf))) > 0)
            ok = write(out, buf, (size_t)r) == r;
        if (in >= 0)
            close(in);
        if (out >= 0)
            ok = fsync(out) == 0 && close(out) == 0 && ok;
        copied += ok;
    }
    closedir(d);
    return copied;
}
