/* copy_sink: what the engine writes to, behind one set of operations.
 *
 * A drive or a file (clone/engine_sink.c): each piece written where it lies on
 * the source, known zeros as BLKZEROOUT on drives and as holes in new files.
 * A compressed image (clone/image_sink.h): pieces in any order, frames out in
 * disk order. The engine, the walk and the verification never ask which:
 * they put, checkpoint, finish and read back. struct engine_target is a sink
 * with the engine's counters for it (bytes, busy time, failure, verdict). */
#ifndef CB_ENGINE_SINK_H
#define CB_ENGINE_SINK_H

#include "clone/hash.h"
#include "clone/io.h"
#include "common/cb_error.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct engine_target;

/* What a sink gives back, read as the disk it holds. */
struct sink_reader {
    ssize_t (*read)(struct sink_reader *r, void *buf, size_t len, uint64_t off);    /* len, or -errno */
    void (*close)(struct sink_reader *r);     /* and frees r */
};

struct engine_sink_ops {
    /* Write [off, off+len) of the disk; known_zeros: buf holds zeros the
     * source was not read for. Bytes written, or -errno. */
    ssize_t (*put)(struct engine_target *t, const void *buf, size_t len, uint64_t off, bool known_zeros);
    /* What was put is on the media (before a map calls it finished). 0 or -errno. */
    int (*checkpoint)(struct engine_target *t);
    /* The copy is over; complete: every piece was put. 0 or -errno (why). */
    int (*finish)(struct engine_target *t, bool complete, char *why, size_t why_len);
    /* Read back what was written: sealed, as any reader will find it on the
     * media (verification); else as it stands during the copy (the digests
     * of what came after a gap). 0 or -errno with err. */
    int (*open_reader)(struct engine_target *t, bool sealed, struct sink_reader **out, struct cb_error *err);
    /* It compresses: its pace is its compressors' (never left behind as a
     * slow drive), and they need most of the job's memory. */
    bool compresses;
};

/* A drive or a file (t->dev), the default of a target without sink_ops. */
extern const struct engine_sink_ops engine_sink_dev_ops;

/* What reading a target back found. */
enum verify_result {
    VERIFY_NOT_RUN = 0,
    VERIFY_EQUAL,                   /* equal to the digests of what was read from the source */
    VERIFY_DIFFERS,                 /* other bytes: diff_from..diff_to is the first differing range */
    VERIFY_UNREADABLE,              /* could not be read back */
    VERIFY_CANCELLED,
};

struct engine_target {
    struct io_dev dev;              /* opened by the caller, O_EXCL; for an image, dev.path names it */
    const struct engine_sink_ops *sink_ops;   /* NULL: a drive or a file (dev); else what writes it */
    void *sink;                     /* that sink's own state (a struct image_sink) */
    bool sparse;                    /* a new file: all-zero buffers are left as holes */
    bool no_zeroout;                /* writer: BLKZEROOUT refused once, write zeros instead */
    _Atomic int failed;             /* writer sets; anyone reads */
    /* Per-target progress, so a UI can tell which drive holds a job back or
     * has stopped answering (in a one-to-many copy the bounded ring makes
     * every target advance at the slowest one's pace, so bytes alone cannot).
     * Written by this target's writer thread (copy) or verifier thread
     * (verify) only; read by anyone, without locks. */
    _Atomic uint64_t bytes_written; /* writer: bytes written to this target so far */
    _Atomic uint64_t bytes_verified;/* verifier: bytes read back so far */
    _Atomic uint64_t busy_ns;       /* writer/verifier: total time inside writes/reads (its own speed) */
    _Atomic uint64_t busy_since_ns; /* writer/verifier: monotonic start of the request in flight, 0 idle */
    /* writer: bytes of data (not known zeros, which may cost nothing: holes,
     * BLKZEROOUT) and the time they took: the drive's own pace, which says
     * whether it is slower than another (copy.c: proved_slow). */
    _Atomic uint64_t data_bytes, data_ns;
    uint64_t served_later;          /* bytes it was left behind on (too slow), written after the walk */
    int error;                      /* -errno of the failure; writer, read after join */
    int sync_error;                 /* -errno the reader thread found (a periodic fdatasync, a piece owed
                                     * to it that no longer reads); read after join */
    uint64_t sync_error_off;        /* where */
    uint64_t error_off;             /* where it failed */
    /* Verification (filled by engine_verify). */
    enum verify_result verified;
    char verify_hex[HASH_MAX_HEX];
    uint64_t diff_from, diff_to;    /* first differing range when VERIFY_DIFFERS */
    char verify_msg[256];
};

/* What writes target t (clone/engine_sink.h). */
static inline const struct engine_sink_ops *engine_target_ops(const struct engine_target *t)
{
    return t->sink_ops ? t->sink_ops : &engine_sink_dev_ops;
}

/* The clock of busy_since_ns (CLOCK_MONOTONIC), for whoever compares with it. */
static inline uint64_t engine_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The target's own thread, around each request it makes of the drive. */
static inline void engine_target_begin(struct engine_target *t)
{
    atomic_store(&t->busy_since_ns, engine_now_ns());
}
/* ... and after it: the request's time (ns), also added to busy_ns. */
static inline uint64_t engine_target_end(struct engine_target *t, _Atomic uint64_t *counter, uint64_t bytes)
{
    uint64_t since = atomic_load(&t->busy_since_ns), now = engine_now_ns();
    uint64_t took = now > since ? now - since : 0;
    atomic_fetch_add(&t->busy_ns, took);
    atomic_fetch_add(counter, bytes);
    atomic_store(&t->busy_since_ns, 0);
    return took;
}

#endif
