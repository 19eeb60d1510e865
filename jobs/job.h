/* job: one job of the station or the command line, whatever its kind.
 *
 * The request (what was asked), the endpoints with their identities, the
 * map and domain, the engine's progress, the outcome and the notes for the
 * report. A clone, an image and a restore are the same struct and the same
 * run (jobs/job_run.h); what their kinds do differently is a table
 * (jobs/job_kinds.h). The pieces of a run (image_job, resize_job, damage,
 * job_health) each take this struct, and none of them runs a job. */
#ifndef CB_JOB_H
#define CB_JOB_H

#include "clone/engine.h"
#include "clone/fs/owners.h"
#include "clone/layout.h"
#include "common/cb_error.h"
#include "devices/dev_health.h"
#include "devices/dev_ident.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define JOB_MAX_TARGETS 16

enum job_outcome {
    OUTCOME_NONE = 0,
    OUTCOME_VERIFIED,       /* copied and every target verified */
    OUTCOME_COPIED,         /* copied, verification not asked for */
    OUTCOME_BAD_SECTORS,    /* finished, some sectors unreadable (written as zeros) */
    OUTCOME_MISMATCH,       /* a target differs from the source */
    OUTCOME_FAILED,
    OUTCOME_CANCELLED,
    OUTCOME_REFUSED,        /* refused when it came to start (a queued job): nothing was written */
};

enum job_kind {
    JOB_CLONE,              /* drive (or file) to drives */
    JOB_IMAGE,              /* drive to an image file (.zst, or raw .img) */
    JOB_RESTORE,            /* image to drives */
};

struct job_endpoint {
    char path[256];
    char kind[16];          /* hdd, ssd, ..., or "file" */
    char model[160];
    char serial[128];
    uint64_t size;
    char contents[512];     /* "gpt: #1 vfat 'EFI' 8.0 MiB, #2 ext4 'ROOTFS' 51.0 MiB" */
    struct dev_ident ident; /* the drive as the job found it (has_ident), re-checked before writing */
    bool has_ident;
    struct dev_health health;   /* a drive's SMART before the job (has_health; jobs/job_health.c) */
    bool has_health, smart;     /* smart: smartctl can say something of it */
};

/* What a clone or image copies: every sector (raw), or only what the
 * filesystems use (used). AUTO, the default, is used when clonebay
 * understands every partition of a source drive, raw otherwise. */
enum copy_mode { COPY_AUTO, COPY_RAW, COPY_USED };

struct job_request {
    enum job_kind kind;
    const char *source;
    const char *const *targets;
    size_t ntargets;
    unsigned hash_mask;     /* reported algorithms; 0 for none */
    bool verify;
    uint64_t max_read_rate; /* bytes/s, 0: unlimited */
    int retries;            /* passes over bad sectors (default 1) */
    const char *fill;       /* marker over unreadable sectors; NULL: zeros */
    const char *map_path;   /* NULL: no map file */
    const char *cmdline;    /* for the map file header */
    /* The drives the operator confirmed (the station): NULL, or the source's
     * and one per target (all zero for a file). A drive that is no longer
     * that one is refused before anything is written. */
    const struct dev_ident *source_ident;
    const struct dev_ident *target_idents;
    /* receive: the image arrives on this stream (header read; source names
     * it), read once in order; the caller owns it. Targets keep its size. */
    struct image_stream *stream;
    /* receive in the station: the job's own thread joins the stream first
     * (join->open sets stream and source; jobs/net_receive_job.c), then
     * prepares the restore from it; join->close, whatever open returned,
     * lets it go once the job is over. */
    const struct stream_join *join;
    const void *join_arg;
    bool dry_run;           /* prepare only (a preview): targets opened read-only, never claimed */
    /* image */
    int level;              /* zstd level, 0: default (3) */
    uint64_t split;         /* bytes per part, 0: one file */
    bool raw;               /* a plain raw image, written sparse */
    bool force;             /* replace an existing image */
    bool optical;           /* image only the ISO 9660 volume (an .iso name sets it too) */
    enum copy_mode mode;    /* --mode: auto (default), raw or used */
    enum layout_resize resize;  /* a target of another size: fit the partitions (default) or keep them */
};

struct image_sink;
struct img_meta;
struct job;

struct stream_join {
    int (*open)(struct job *job, struct job_request *req, struct cb_error *err);
    void (*close)(struct job *job, struct job_request *req);
};

struct job;

/* What a kind of job does differently (the tables: jobs/job_kinds.c). */
struct job_kind_ops {
    enum job_kind kind;
    const char *name;               /* "clone", "image", "restore": reports, logs, file names */
    bool makes_image;               /* its one target is an image file it makes */
    bool reads_image;               /* its source is an image, decoded (and opened by check_source) */
    /* The request as its names make it: a restore of a raw .img is a clone
     * of that file, an image named .iso holds a disc's volume. NULL: as given. */
    void (*name_request)(struct job_request *req);
    /* Which target is an image file (clonebay/image_sink.h or a raw file),
     * -1 none, or -errno with err (one image per job). No I/O but stat. */
    int (*image_target)(const struct job_request *req, struct cb_error *err);
    /* The kind's own judgement of its source (is_block: it is a block
     * device), and, unless light, its opening (a restore opens
     * and checks the image here, before any target is looked at). NULL: the
     * source is a drive or a file, opened with the targets. */
    int (*check_source)(struct job *job, const struct job_request *req, bool is_block, bool light,
                        struct cb_error *err);
};

struct job {
    enum job_kind kind;
    const struct job_kind_ops *ops;     /* what the kind does differently (jobs/job_kinds.h) */
    struct job_endpoint source;
    struct job_endpoint targets[JOB_MAX_TARGETS];
    size_t ntargets;
    unsigned hash_mask;
    bool verify;
    uint64_t max_read_rate;
    int retries;
    char fill[64];
    char map_path[4096];
    bool resumed;           /* continued from an existing map */

    struct io_dev src;
    struct image *image;    /* restore: the image read from */
    struct image_stream *stream;    /* receive: the stream read from (the request's) */
    /* image jobs */
    bool raw, force, optical;
    int level;
    uint64_t split;
    char image_final[4096]; /* the finished image's name (FILE.zst, FILE.img) */
    char image_partial[4200];
    uint64_t image_bytes, image_frames, zero_frames;
    uint64_t image_spilled, image_resumed_frames;  /* frames that waited out of order; kept from an earlier run */
    int image_target;               /* the target that is an image (JOB_IMAGE: 0; a clone: a FILE.zst among
                                     * its drives), -1 none */
    bool image_sealed;              /* its trailer and seek table are written */
    struct image_sink *sink;        /* a compressed image: the engine's target (jobs/image_job.c) */
    struct img_meta *image_meta;    /* its header, then its trailer */
    struct block_map image_domain;  /* --mode used: the domain, with the rest known zeros (the image's stream) */
    struct engine_record *image_vouched;  /* a resumed image's kept frames and their sums (engine.vouched) */
    struct engine_target ctargets[JOB_MAX_TARGETS];
    struct block_map map;
    struct block_map domain;    /* --mode used: what to copy (MAP_FINISHED regions) */
    bool used_only;
    pthread_mutex_t map_mu;     /* guards map while the job runs (job_map_snapshot) */
    struct engine_task engine;
    struct copy_progress progress;

    time_t started, ended;
    double copy_seconds, verify_seconds;   /* wall time of each phase */
    enum job_outcome outcome;
    char outcome_msg[512];
    _Atomic int run_finished;       /* job_thread sets it when the run is over; the UI polls it */
    const struct job_request *deferred;   /* job_new_deferred: prepared by the thread */
    bool gpt_moved[JOB_MAX_TARGETS];
    bool table_as_is;               /* a hybrid ISO's table: written byte for byte, even the GPT backup */
    struct resize_state *resize;    /* NULL, or the partitions fitted onto the targets (resize_job) */
    char tool_log[8192];            /* what resize2fs & co. said */
    struct dev_health source_health_after;  /* the source's SMART once the run is over */
    bool has_health_after;
    struct fs_owner_list damaged;   /* what the bad sectors hit (jobs/damage.c), once the job is over */
    char notes[12][512];
    int nnotes;
};

/* A note for the report; notes beyond the room are dropped, never overflow. */
void job_note(struct job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* What the engine reads: the source drive or file, the image, or the stream. */
struct engine_source job_source(struct job *job);

/* Whether [start, start+size) of the source drive is mounted read-write on
 * this machine (it changes under the copy whatever its bitmaps say now);
 * why then says so, in words. */
bool job_source_mounted_rw(const struct job *job, uint64_t start, uint64_t size, char *why, size_t len);

/* Let go of the drives (O_EXCL claims) of a finished job, keeping its record. */
void job_close_devices(struct job *job);

const char *job_outcome_name(enum job_outcome outcome);
struct dev_drive;
/* "gpt: #1 vfat 'EFI' 8.0 MiB, #2 ext4 'ROOTFS' 51.0 MiB": what is on a drive. */
void job_drive_contents(const struct dev_drive *d, char *buf, size_t len);
/* A copy of the job's block map, safe while it runs. 0 or -ENOMEM. */
int job_map_snapshot(struct job *job, struct block_map *out);

#endif
