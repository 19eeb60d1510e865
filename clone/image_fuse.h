/* image_fuse: an image's disk served as a file, for the kernel's loop device
 * (clonebay mount).
 *
 * Why FUSE and a loop device rather than nbdkit: the kernel here and on many
 * bench machines has no nbd module (and none can be loaded: TESTBENCH.md),
 * while FUSE and loop are built in everywhere clonebay runs, the live ISO
 * included; libfuse3 is one small library, where nbdkit would add a server, a
 * plugin written against its API and the nbd-client tool. A loop device over
 * a FUSE file is also what the tests already trust as a drive (faultdisk):
 * an EIO from read() reaches the block layer as a failed sector range.
 *
 * The FUSE file system is mounted on the user's folder itself:
 *   .disk    the disk, read-only (direct I/O: the loop device and the
 *            filesystems above it keep their own caches)
 *   .stats   reads, frames decoded, cache hits, damaged frames, the pid
 *   .log     what the helper saw: the image served, each damaged frame
 *   pN       empty folders made with mkdir, where partitions get mounted
 * so `ls DIR` shows the partitions, and unmounting DIR ends the helper. */
#ifndef CB_IMAGE_FUSE_H
#define CB_IMAGE_FUSE_H

#include "clone/frame_cache.h"

/* Mount on dir and serve c until dir is unmounted (or SIGTERM). ready_fd
 * gets one byte, 'R', once the mount is in place, or the reason it failed
 * as text; it is closed before serving. Single-threaded: c has one owner.
 * Returns 0 after a clean unmount, or -errno. */
int image_fuse_serve(struct fcache *c, const char *image_path, const char *dir, int ready_fd);

#endif
