#include "jobs/image_mount.h"
#include "clone/fs/fs.h"
#include "clone/frame_cache.h"
#include "clone/image_fuse.h"
#include "common/run_tool.h"
#include "devices/dev_partitions.h"
#include "jobs/image_job.h"
#include "jobs/mount_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELPER_FSTYPE "fuse.clonebay"

static void nap_ms(long ms)
{
    nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000 }, NULL);
}

static void absolute(const char *dir, char *out, size_t len);

static int check_dir(const char *dir, char *canon, size_t len, struct cb_error *err)
{
    char buf[PATH_MAX];
    struct stat st;
    if (!realpath(dir, buf) || stat(buf, &st) != 0)
        return cb_error_set(err, -errno, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cb_error_set(err, -ENOTDIR, "%s is not a folder", dir);
    snprintf(canon, len, "%s", buf);
    char fstype[64];
    mount_fstype_at(canon, fstype, sizeof(fstype));
    if (fstype[0])
        return cb_error_set(err, -EBUSY, "%s is already a mount point (%s)%s", dir, fstype,
                            strcmp(fstype, HELPER_FSTYPE) ? "" : ": an image is mounted there; `clonebay umount` it first");
    DIR *d = opendir(canon);
    if (!d)
        return cb_error_set(err, -errno, "cannot read the folder %s: %s", dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            rc = cb_error_set(err, -EBUSY, "%s is not empty (it holds %s): mount an image on an empty folder",
                              dir, de->d_name);
            break;
        }
    closedir(d);
    return rc;
}

/* The helper's own life: out of the technician's session (a closed terminal
 * must not end it), holding no descriptor of the caller's (a pipe the caller
 * waits on would never see its end), with the image opened afresh. */
static void helper_main(const char *image, bool raw, const char *dir, int ready)
{
    setsid();
    if (ready != 3) {
        dup2(ready, 3);
        close(ready);
    }
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
    }
    close_range(4, ~0u, 0);
    if (chdir("/") != 0)
        _exit(1);
    prctl(PR_SET_NAME, "clonebay-mount");   /* ps and the tests find it by this name */
    struct fcache *c;
    struct cb_error err = { 0 };
    if (fcache_open(&c, image, raw, FCACHE_SLOTS, &err)) {
        ssize_t w = write(3, err.msg, strlen(err.msg));
        _exit(w < 0 ? 2 : 1);
    }
    int rc = image_fuse_serve(c, image, dir, 3);
    fcache_close(c);
    _exit(rc ? 1 : 0);
}

/* Fork the helper that serves the image on dir; returns once the FUSE mount
 * is in place (or failed, with the helper's reason). */
static int start_helper(const char *image, bool raw, const char *dir, pid_t *pid, struct cb_error *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return cb_error_set(err, -errno, "cannot start the mount helper: %s", strerror(errno));
    fflush(NULL);
    *pid = fork();
    if (*pid < 0) {
        close(p[0]);
        close(p[1]);
        return cb_error_set(err, -errno, "cannot start the mount helper: %s", strerror(errno));
    }
    if (*pid == 0) {
        close(p[0]);
        helper_main(image, raw, dir, p[1]);
    }
    close(p[1]);
    char msg[CB_ERROR_MSG_MAX] = "";
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof(msg) && ((r = read(p[0], msg + n, sizeof(msg) - 1 - n)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            n += (size_t)r;
    msg[n] = '\0';
    close(p[0]);
    if (!strcmp(msg, "R"))
        return 0;
    waitpid(*pid, NULL, 0);
    *pid = 0;
    return cb_error_set(err, -EIO, "the mount helper failed: %s", n ? msg : "it ended without a word");
}

static bool has_prog(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096], dir[4200];
    snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(dir, sizeof(dir), "%s/%s", d, name);
        if (access(dir, X_OK) == 0)
            return true;
    }
    return false;
}

static int run(const char *const argv[], char *note, size_t len)
{
    char out[512];
    int rc = run_tool(argv, out, sizeof(out));
    if (rc != 0) {
        out[strcspn(out, "\n")] = '\0';
        snprintf(note, len, "%s failed: %s", argv[0], rc < 0 ? strerror(-rc) : out[0] ? out : "no reason given");
    }
    return rc;
}

/* Mount one partition read-only with what this machine has for its
 * filesystem: the kernel where it can, the FUSE programs where it cannot
 * (this kernel has neither vfat nor NTFS). Nothing is ever replayed or
 * written: ext is mounted with noload, so a journal needing recovery stays. */
static bool mount_one(struct mounted_part *p)
{
    const unsigned long fl = MS_RDONLY | MS_NOSUID | MS_NODEV;
    const struct fs_ops *fs = fs_ops_find(p->fstype);
    const struct fs_mount *m = fs ? &fs->mount : NULL;
    if (!m || (!m->kernel && !m->fuse)) {
        snprintf(p->note, sizeof(p->note), "not mounted: clonebay mounts ext2/3/4, FAT and NTFS");
        return false;
    }
    bool fuse = m->fuse && has_prog(m->fuse);
    if (!(fuse && m->fuse_first) && m->kernel && mount(p->node, p->dir, m->kernel, fl, m->kernel_data) == 0) {
        snprintf(p->how, sizeof(p->how), "kernel %s, ro%s%s", m->kernel, m->kernel_data ? "," : "",
                 m->kernel_data ? m->kernel_data : "");
        return true;
    }
    int e = errno;
    if (fuse) {
        const char *argv[] = { m->fuse, "-o", m->fuse_opts, p->node, p->dir, NULL };
        if (run(argv, p->note, sizeof(p->note)) != 0)
            return false;
        snprintf(p->how, sizeof(p->how), "%s, ro", m->fuse);
        return true;
    }
    if (m->missing)
        snprintf(p->note, sizeof(p->note), "%s", m->missing);
    else
        snprintf(p->note, sizeof(p->note), "the kernel refused to mount it: %s", strerror(e));
    return false;
}

static int by_number(const void *a, const void *b)
{
    return ((const struct mounted_part *)a)->number - ((const struct mounted_part *)b)->number;
}

/* The partitions the kernel now has on the loop device, with their filesystems. */
static void find_parts(struct image_mount *m)
{
    const char *name = m->loop + 5;     /* "loopN" */
    char sys[128];
    snprintf(sys, sizeof(sys), "/sys/block/%s", name);
    DIR *d = opendir(sys);
    size_t n = strlen(name);
    struct dirent *de;
    while (d && (de = readdir(d)) && m->nparts < MOUNT_MAX_PARTS) {
        if (strncmp(de->d_name, name, n) != 0 || de->d_name[n] != 'p' || atoi(de->d_name + n + 1) <= 0)
            continue;
        struct mounted_part *p = &m->parts[m->nparts++];
        memset(p, 0, sizeof(*p));
        p->number = atoi(de->d_name + n + 1);
        snprintf(p->node, sizeof(p->node), "/dev/%s", de->d_name);
    }
    if (d)
        closedir(d);
    if (m->nparts == 0) {
        /* No table: a filesystem on the whole disk (a stick formatted as one). */
        struct mounted_part *p = &m->parts[m->nparts++];
        memset(p, 0, sizeof(*p));
        p->number = 1;
        snprintf(p->node, sizeof(p->node), "%s", m->loop);
    }
    qsort(m->parts, m->nparts, sizeof(m->parts[0]), by_number);
    for (size_t i = 0; i < m->nparts; i++) {
        struct mounted_part *p = &m->parts[i];
        int fd = open(p->node, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(p->note, sizeof(p->note), "cannot open %s: %s", p->node, strerror(errno));
            continue;
        }
        if (ioctl(fd, BLKGETSIZE64, &p->size) != 0)
            p->size = 0;
        dev_probe_fs(fd, 0, p->size, p->fstype, sizeof(p->fstype), p->label, sizeof(p->label), NULL, 0);
        close(fd);
    }
    if (m->nparts == 1 && !strcmp(m->parts[0].node, m->loop) && !m->parts[0].fstype[0])
        m->nparts = 0;
}

static void mount_parts(struct image_mount *m)
{
    for (size_t i = 0; i < m->nparts; i++) {
        struct mounted_part *p = &m->parts[i];
        if (!p->fstype[0]) {
            if (!p->note[0])
                snprintf(p->note, sizeof(p->note), "no filesystem found");
            continue;
        }
        snprintf(p->dir, sizeof(p->dir), "%s/p%d", m->dir, p->number);
        if (mkdir(p->dir, 0755) != 0) {
            snprintf(p->note, sizeof(p->note), "cannot make %s: %s", p->dir, strerror(errno));
            p->dir[0] = '\0';
            continue;
        }
        p->mounted = mount_one(p);
        if (!p->mounted)
            rmdir(p->dir);
    }
}

/* A loop device that reads its backing file without direct I/O zero-fills a
 * short read instead of asking for the rest, so the bytes of a damaged frame
 * after good ones would read as zeros rather than fail: say so. */
static void check_direct_io(struct image_mount *m)
{
    char path[128], v[8] = "";
    snprintf(path, sizeof(path), "/sys/block/%s/loop/dio", m->loop + 5);
    FILE *f = fopen(path, "re");
    if (f && fgets(v, sizeof(v), f) && v[0] == '0')
        snprintf(m->warning, sizeof(m->warning), "%s reads without direct I/O here: a read that runs into a damaged "
                 "frame may give zeros instead of an I/O error", m->loop);
    if (f)
        fclose(f);
}

int image_mount(const char *image, const char *dir, struct image_mount *m, struct cb_error *err)
{
    memset(m, 0, sizeof(*m));
    int rc = check_dir(dir, m->dir, sizeof(m->dir), err);
    if (rc)
        return rc;
    /* Every refusal of the image before anything is mounted: the helper
     * opens it again, after leaving the caller's descriptors behind. */
    struct fcache *c = NULL;
    struct stat st;
    bool raw = image_job_raw_name(image) || (stat(image, &st) == 0 && S_ISBLK(st.st_mode));
    if ((rc = fcache_open(&c, image, raw, 1, err)))
        return rc == -ENOENT ? rc : -EINVAL;
    m->disk_size = fcache_size(c);
    unsigned sector = fcache_sector_size(c);
    fcache_close(c);
    char full[PATH_MAX];
    absolute(image, full, sizeof(full));    /* the helper works from / */
    if ((rc = start_helper(full, raw, m->dir, &m->helper, err)))
        return rc;
    /* Shared: a process that enters a mount namespace of its own meanwhile
     * (ip netns exec) copies these mounts as slaves, and our unmounts reach
     * its copies; private copies would keep the loop device and the FUSE
     * programs alive after umount, as long as that process lives. */
    mount(NULL, m->dir, NULL, MS_SHARED, NULL);
    char disk[4200];
    snprintf(disk, sizeof(disk), "%s/.disk", m->dir);
    if ((rc = loop_attach_ro(disk, sector, m->loop, sizeof(m->loop), err)) ||
        (rc = loop_add_partitions(m->loop, err))) {
        struct cb_error ignored = { 0 };
        image_umount(m->dir, NULL, &ignored);
        return rc;
    }
    check_direct_io(m);
    find_parts(m);
    if (m->nparts == 0 && raw) {
        struct cb_error ignored = { 0 };
        image_umount(m->dir, NULL, &ignored);
        return cb_error_set(err, -EINVAL, "%s holds neither a partition table nor a filesystem: not a disk image",
                            image);
    }
    mount_parts(m);
    return 0;
}

static pid_t helper_pid(const char *dir)
{
    char path[4200], line[4200];
    snprintf(path, sizeof(path), "%s/.stats", dir);
    FILE *f = fopen(path, "re");
    long pid = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "pid %ld", &pid) == 1)
            break;
    if (f)
        fclose(f);
    return (pid_t)pid;
}

/* Gone, or a zombie its new parent has yet to reap. */
static bool process_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return true;
    bool gone = !fgets(buf, sizeof(buf), f);
    fclose(f);
    const char *close_paren = strrchr(buf, ')');
    return gone || (close_paren && close_paren[1] == ' ' && (close_paren[2] == 'Z' || close_paren[2] == 'X'));
}

/* dir made absolute without following it: a helper that died leaves a mount
 * point that cannot be stat'ed (ENOTCONN), and it must still be undone. */
static void absolute(const char *dir, char *out, size_t len)
{
    char buf[PATH_MAX], copy1[PATH_MAX], copy2[PATH_MAX];
    if (realpath(dir, buf)) {
        snprintf(out, len, "%s", buf);
        return;
    }
    snprintf(copy1, sizeof(copy1), "%s", dir);
    snprintf(copy2, sizeof(copy2), "%s", dir);
    const char *parent = dirname(copy1), *base = basename(copy2);
    if (realpath(parent, buf))
        snprintf(out, len, "%s/%s", strcmp(buf, "/") ? buf : "", base);
    else
        snprintf(out, len, "%s", dir);
}

/* End the FUSE connection of a partition just unmounted (ntfs-3g, fusefat):
 * a copy of the mount that another mount namespace keeps privately would
 * otherwise keep the program, and through it the loop device, alive. */
static void fuse_abort(dev_t dev)
{
    char path[96];
    /* named by the kernel's own device number: major << 20 | minor */
    snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort", major(dev) << 20 | minor(dev));
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        /* Where no init mounted the FUSE control file system (systemd does), mount it. */
        mount("fusectl", "/sys/fs/fuse/connections", "fusectl", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        fd = open(path, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return;     /* gone with the unmount, or no fusectl here */
    if (write(fd, "1", 1) < 0) {
        /* nothing more to do: the program ends when the copy goes */
    }
    close(fd);
}

/* A process in another mount namespace whose copy of the mounts still shows
 * dir ("pid 123 (ip)"): what keeps a private copy alive. */
static bool foreign_copy(const char *dir, char *who, size_t len)
{
    char mine[64] = "", path[64], ns[64], line[4400];
    if (readlink("/proc/self/ns/mnt", mine, sizeof(mine) - 1) < 0)
        return false;
    DIR *d = opendir("/proc");
    struct dirent *de;
    bool found = false;
    while (d && !found && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/ns/mnt", de->d_name);
        ssize_t n = readlink(path, ns, sizeof(ns) - 1);
        if (n < 0)
            continue;
        ns[n] = '\0';
        if (!strcmp(ns, mine))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/mountinfo", de->d_name);
        FILE *f = fopen(path, "re");
        while (f && !found && fgets(line, sizeof(line), f))
            found = strstr(line, dir) != NULL;
        if (f)
            fclose(f);
        if (found) {
            char comm[64] = "?";
            snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
            f = fopen(path, "re");
            if (f && fgets(comm, sizeof(comm), f))
                comm[strcspn(comm, "\n")] = '\0';
            if (f)
                fclose(f);
            snprintf(who, len, "process %s (%s)", de->d_name, comm);
        }
    }
    if (d)
        closedir(d);
    return found;
}

int image_umount(const char *dir, struct image_umount_result *res, struct cb_error *err)
{
    struct image_umount_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    char canon[PATH_MAX];
    absolute(dir, canon, sizeof(canon));
    char fstype[64];
    mount_fstype_at(canon, fstype, sizeof(fstype));
    if (strcmp(fstype, HELPER_FSTYPE) != 0)
        return cb_error_set(err, -EINVAL, "%s is not an image mounted by clonebay%s%s%s", dir,
                            fstype[0] ? " (it is a " : "", fstype, fstype[0] ? " mount)" : "");
    pid_t pid = helper_pid(canon);
    struct mount_entry *v = NULL;
    size_t n = 0;
    if (mount_list_under(canon, &v, &n))
        return cb_error_set(err, -EIO, "cannot read this machine's mount table");
    for (size_t i = n; i-- > 0;) {
        if (!strcmp(v[i].point, canon))
            continue;
        struct stat fst;
        bool fuse = !strncmp(v[i].fstype, "fuse", 4) && stat(v[i].point, &fst) == 0;
        if (umount2(v[i].point, 0) != 0 && errno != EINVAL) {
            int e = errno;
            cb_error_set(err, -e, "%s cannot be unmounted: %s%s", v[i].point, strerror(e),
                         e == EBUSY ? " (a program or shell is using it: close it and try again)" : "");
            free(v);
            return -e;
        }
        res->unmounted++;
        if (fuse)
            fuse_abort(fst.st_dev);
    }
    free(v);
    char disk[PATH_MAX + 8], loops[8][32];
    snprintf(disk, sizeof(disk), "%s/.disk", canon);
    size_t nl = loop_find_backing(disk, loops, 8);
    for (size_t i = 0; i < nl; i++) {
        int rc = loop_detach(loops[i], err);
        if (rc)
            return rc;
        res->loops++;
    }
    int rc = -EBUSY;
    for (int tries = 0; tries < 50 && rc == -EBUSY; tries++) {
        rc = umount2(canon, 0) == 0 ? 0 : -errno;
        if (rc == -EBUSY)
            nap_ms(40);     /* the loop device lets go of .disk a moment after it is detached */
    }
    char other[160];
    if (rc == -EBUSY && foreign_copy(canon, other, sizeof(other)))
        return cb_error_set(err, rc, "%s cannot be unmounted yet: %s keeps a copy of its mounts in a mount "
                            "namespace of its own, which holds the disk until that process ends; `clonebay umount %s` "
                            "again then", dir, other, dir);
    if (rc)
        return cb_error_set(err, rc, "%s cannot be unmounted: %s%s", dir, strerror(-rc),
                            rc == -EBUSY ? " (a program has its .disk or a file in it open: close it and try again)"
                                         : "");
    res->unmounted++;
    if (pid > 0) {
        for (int i = 0; i < 100 && !process_gone(pid); i++)
            nap_ms(20);
        if (!process_gone(pid)) {
            kill(pid, SIGTERM);
            for (int i = 0; i < 100 && !process_gone(pid); i++)
                nap_ms(20);
        }
        res->helper_gone = process_gone(pid);
        if (res->helper_gone)
            waitpid(pid, NULL, WNOHANG);    /* when it is our child (the station's, diff's): no zombie left */
    } else {
        res->helper_gone = true;
    }
    return 0;
}
