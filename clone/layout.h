/* layout: a drive's partition table, and the same table fitted onto a drive
 * of another size.
 *
 * The table is read from the source's own bytes (GPT, or MBR with extended
 * and logical partitions) and written to a target by editing a copy of those
 * bytes: only the geometry changes, so type and partition GUIDs, names,
 * attributes, the disk GUID, MBR IDs, boot code and disk signature stay as the
 * source had them. (libparted 3.5 cannot set a GPT type or partition GUID, so a
 * table rebuilt through it would lose exactly what makes the copy the same
 * system.) One small ops struct per table type, as util-linux's libfdisk does. */
#ifndef CB_LAYOUT_H
#define CB_LAYOUT_H

#include "common/cb_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LAYOUT_MAX_PARTS 128
#define LAYOUT_ALIGN (1u << 20)         /* partitions start on MiB boundaries */

enum layout_kind { LAYOUT_NONE, LAYOUT_GPT, LAYOUT_MBR };
enum layout_resize { RESIZE_AUTO, RESIZE_KEEP, RESIZE_PROPORTIONAL };

/* How a partition may change size, decided by the caller from its filesystem. */
enum layout_fit {
    FIT_FIXED,              /* keeps its size: boot partitions, filesystems clonebay cannot resize */
    FIT_GROW,               /* may grow, not shrink */
    FIT_ANY,                /* may grow or shrink down to min_size */
};

struct layout_part {
    int number;             /* as the kernel numbers it: GPT entry + 1; MBR 1..4, logical 5.. */
    uint64_t start, size;   /* bytes */
    bool extended;          /* MBR extended container (holds the logical ones) */
    bool logical;
    char type[40];          /* GPT type GUID (lowercase) or "0x83" */
    uint64_t ebr;           /* logical: where its EBR sits (bytes); the lead before it moves along */
    unsigned char ebr_bytes[512];
    /* Set by the caller before planning: */
    char fstype[32];
    enum layout_fit fit;
    uint64_t min_size;      /* FIT_ANY: the least the filesystem fits in (bytes) */
    /* The plan: */
    uint64_t new_start, new_size;
    uint64_t new_ebr;
};

struct layout {
    enum layout_kind kind;
    unsigned sector;
    uint64_t disk_size;
    size_t nparts;
    struct layout_part parts[LAYOUT_MAX_PARTS];     /* in disk order */
    /* The source's table bytes, edited on write. */
    unsigned char mbr[4096];        /* sector 0, whole (MBR or protective MBR) */
    unsigned char gpt_header[512];
    unsigned char *gpt_entries;     /* entries array (n * entry size bytes) */
    uint32_t gpt_nentries, gpt_entry_size;
    uint64_t gpt_entries_lba;
    uint64_t new_disk_size;         /* the planned target's size */
};

/* Where the bytes come from: a device, or an image decoded on the fly. */
typedef int (*layout_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* A layout_read_fn over an io_dev (ctx). */
int layout_read_io(void *dev, void *buf, size_t len, uint64_t off);

/* Read the table of a disk of disk_size bytes (sector: its logical sector
 * size). 0 (kind LAYOUT_NONE when there is no table), or -errno with err
 * naming what is damaged. */
int layout_read(struct layout *l, layout_read_fn rd, void *ctx, const char *name, uint64_t disk_size,
                unsigned sector, struct cb_error *err);
void layout_free(struct layout *l);
/* A copy that owns its own table bytes (one plan per target). 0 or -ENOMEM. */
int layout_copy(struct layout *dst, const struct layout *src);

/* Fit the layout onto a target of target_size bytes: fills new_start and
 * new_size of every partition. KEEP keeps every partition where it is (the
 * target must hold them all); PROPORTIONAL scales FIT_GROW/FIT_ANY partitions
 * by the ratio of the sizes, keeps FIT_FIXED ones, aligns starts to 1 MiB and
 * gives the last partition what is left. -ENOSPC with err naming the partition,
 * what it needs and the room it would get when it cannot fit. */
int layout_plan(struct layout *l, uint64_t target_size, enum layout_resize how, const char *target_name,
                struct cb_error *err);

/* Write the planned table to a target (path and fd opened for writing, its
 * size and sector size as planned). Everything else on the target is left. */
struct io_dev;
int layout_write(const struct layout *l, struct io_dev *target, struct cb_error *err);

/* After layout_write: make the kernel read the new table (BLKRRPART), adding
 * partitions with BLKPG where it finds none, and fill nodes[i] with the node
 * of parts[i] ("" for an extended container or when there is none). note says
 * what happened when it was not plain sailing. 0 or -errno. */
int layout_kernel_sync(const struct layout *l, struct io_dev *target, char (*nodes)[64], char *note,
                       size_t note_len);

/* The kernel's node for a partition of the disk rdev as the table has it now
 * (same number, start and size). 0, or -ENOENT when the kernel has none. */
int layout_source_node(dev_t rdev, const struct layout_part *p, char *node, size_t len);

/* GPT: where the header read says its backup lies (LBA). */
uint64_t layout_gpt_alt_lba(const struct layout *l);
/* Bytes at the end of a disk the table keeps for itself (GPT's backup). */
uint64_t layout_tail_bytes(const struct layout *l);
/* The end of the area before the first partition (boot loader gap), bytes. */
uint64_t layout_head_bytes(const struct layout *l);
/* true when some partition moves or changes size. */
bool layout_changes(const struct layout *l);
const char *layout_kind_name(enum layout_kind kind);
/* EFI system and BIOS boot partitions (GPT type GUID, or MBR 0xef): firmware
 * and boot loaders read them by sector, so they are copied whole and never resized. */
bool layout_boot_type(const char *type);
/* Microsoft reserved (MSR): Windows keeps it empty, with no filesystem. */
bool layout_msr_type(const char *type);
/* MBR extended containers (0x05, 0x0f, 0x85; as a type string "0x0f"): they
 * hold the logical partitions. */
bool layout_mbr_extended(unsigned type);
bool layout_extended_type(const char *type);

/* Per table type. */
struct layout_ops {
    int (*read)(struct layout *l, layout_read_fn rd, void *ctx, const char *name, struct cb_error *err);
    int (*write)(const struct layout *l, struct io_dev *target, struct cb_error *err);
};
extern const struct layout_ops layout_gpt_ops, layout_mbr_ops;
/* For the ops: write len bytes at off, or say where it failed. */
int layout_put(struct io_dev *t, const void *buf, size_t len, uint64_t off, struct cb_error *err);

#endif
