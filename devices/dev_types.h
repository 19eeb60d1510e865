/* dev_types: what clonebay knows about a drive.
 *
 * Plain data shared by every layer above devices/: identity (who the drive
 * is), geometry (how big, which sector sizes) and safety facts (may we write
 * it). No I/O state and no UI flags live here. */
#ifndef CB_DEV_TYPES_H
#define CB_DEV_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dev_kind {
    DEV_KIND_UNKNOWN = 0,
    DEV_KIND_HDD,
    DEV_KIND_SSD,
    DEV_KIND_NVME,
    DEV_KIND_USB,
    DEV_KIND_SD,
    DEV_KIND_OPTICAL,
    DEV_KIND_VIRTUAL,
    DEV_KIND_LOOP,
};

enum dev_bus {
    DEV_BUS_UNKNOWN = 0,
    DEV_BUS_SATA,
    DEV_BUS_SAS,
    DEV_BUS_SCSI,
    DEV_BUS_NVME,
    DEV_BUS_USB,
    DEV_BUS_MMC,
    DEV_BUS_VIRTIO,
    DEV_BUS_LOOP,
};

struct dev_partition {
    int number;
    char name[32];          /* kernel name when the kernel knows it, "" otherwise */
    char path[64];          /* /dev/NAME, "" when the kernel has no node for it */
    uint64_t start;         /* bytes from the start of the disk */
    uint64_t size;          /* bytes */
    char fstype[32];
    char label[128];
    char uuid[64];
    char type[40];          /* GPT type GUID (lowercase) or MBR type "0xef"; "" when unknown */
};

struct dev_optical {
    bool media;             /* a disc is in the drive */
    bool blank;
    char media_type[32];    /* "cd", "dvd", "dvd_plus_r", "bd", ... ("" when unknown) */
    unsigned data_tracks;
    unsigned audio_tracks;
};

struct dev_drive {
    char name[32];          /* kernel name: sda, nvme0n1, loop3 */
    char path[64];          /* /dev/sda */
    unsigned major, minor;
    uint64_t diskseq;       /* the kernel's attach/media-change count; 0 when unknown */
    char vendor[64];
    char model[128];
    char serial[128];
    char wwn[64];
    char backing_file[256]; /* loop devices only */
    uint64_t size;          /* bytes; 0 for an empty optical drive or card reader */
    unsigned logical_sector;
    unsigned physical_sector;
    bool rotational, removable, readonly;
    enum dev_bus bus;
    enum dev_kind kind;
    bool is_optical;
    struct dev_optical optical;
    char pttype[16];        /* "gpt", "dos", "" */
    char fstype[32];        /* filesystem on the whole device, if any */
    char label[128];

    /* Safety facts, filled by dev_safety_fill(). */
    bool mounted;
    bool system;
    bool busy;              /* another program writes it (dev_safety), or a job of ours (jobs/) */
    char mounted_why[160];  /* "/dev/sdb2 is mounted on /media/x" */
    char system_why[160];
    char busy_why[160];     /* "open for writing by PID 812 (clonebay)" */

    size_t npart;
    struct dev_partition *parts;
};

struct dev_list {
    size_t count;
    struct dev_drive *drives;
};

const char *dev_kind_name(enum dev_kind kind);
const char *dev_bus_name(enum dev_bus bus);

void dev_list_free(struct dev_list *list);
/* The drive whose path or kernel name is given, or NULL. */
struct dev_drive *dev_list_find(struct dev_list *list, const char *path_or_name);

#endif
