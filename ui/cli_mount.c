/* cli_mount: the command-line side of jobs/image_mount. */
#include "ui/cli_mount.h"
#include "common/units.h"
#include "jobs/image_mount.h"
#include "ui/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool help_asked(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    return false;
}

/* A refusal leaves nothing mounted: exit 2, as for any command. */
static bool refusal(int rc)
{
    return rc == -EINVAL || rc == -EBUSY || rc == -ENOENT || rc == -ENOTDIR || rc == -EACCES;
}

int cli_mount(int argc, char **argv)
{
    if (help_asked(argc, argv)) {
        puts("Usage: clonebay mount IMAGE DIR\n"
             "Open IMAGE (FILE.zst, its parts FILE.zst.000..., or a raw FILE.img) read-only without restoring\n"
             "it: its disk appears as DIR/.disk on a read-only loop device, and every partition holding ext2/3/4,\n"
             "FAT or NTFS is mounted read-only on DIR/p1, DIR/p2... DIR must be an empty folder.\n"
             "DIR/.stats counts the frames decoded; DIR/.log names any damaged frame (reads of its disk bytes\n"
             "fail with an I/O error, the rest reads normally). `clonebay umount DIR` undoes all of it.");
        return CLI_OK;
    }
    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
        return cli_fail(CLI_REFUSED, "usage: clonebay mount IMAGE DIR");
    struct image_mount m;
    struct cb_error err = { 0 };
    int rc = image_mount(argv[1], argv[2], &m, &err);
    if (rc)
        return cli_fail(refusal(rc) ? CLI_REFUSED : CLI_FAILED, "%s", err.msg);
    char size[32];
    printf("%s: %s of disk on %s (read-only), served from %s/.disk\n", argv[1],
           units_format_bytes(m.disk_size, size, sizeof(size)), m.loop, m.dir);
    if (m.warning[0])
        printf("  warning: %s\n", m.warning);
    if (m.nparts == 0)
        printf("  no partition table and no filesystem found\n");
    for (size_t i = 0; i < m.nparts; i++) {
        const struct mounted_part *p = &m.parts[i];
        units_format_bytes(p->size, size, sizeof(size));
        printf("  #%-2d %-10s %-6s %-16s ", p->number, size, p->fstype[0] ? p->fstype : "-",
               p->label[0] ? p->label : "");
        if (p->mounted)
            printf("%s  (%s)\n", p->dir, p->how);
        else
            printf("%s\n", p->note);
    }
    printf("Undo with: clonebay umount %s\n", m.dir);
    return CLI_OK;
}

int cli_umount(int argc, char **argv)
{
    if (help_asked(argc, argv)) {
        puts("Usage: clonebay umount DIR\n"
             "Undo `clonebay mount IMAGE DIR`: unmount its partitions, drop the loop device and end the\n"
             "helper that serves the image. Works after a crash too.");
        return CLI_OK;
    }
    if (argc != 2 || argv[1][0] == '-')
        return cli_fail(CLI_REFUSED, "usage: clonebay umount DIR");
    struct image_umount_result r;
    struct cb_error err = { 0 };
    int rc = image_umount(argv[1], &r, &err);
    if (rc)
        return cli_fail(rc == -EINVAL ? CLI_REFUSED : CLI_FAILED, "%s", err.msg);
    printf("%s: unmounted (%zu file system%s, %zu loop device%s)%s\n", argv[1], r.unmounted,
           r.unmounted == 1 ? "" : "s", r.loops, r.loops == 1 ? "" : "s",
           r.helper_gone ? "" : "; the helper process did not end");
    return r.helper_gone ? CLI_OK : CLI_FAILED;
}
