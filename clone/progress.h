/* progress: a running job's counters, readable from any thread without locks.
 *
 * The engine writes them; the UI (or the CLI's progress line) reads them when
 * it redraws. State changes are also announced by writing to event_fd (an
 * eventfd the UI polls), so nobody has to spin. */
#ifndef CB_PROGRESS_H
#define CB_PROGRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum copy_phase {
    PHASE_PREPARING = 0,
    PHASE_COPY,
    PHASE_TRIM,
    PHASE_SCRAPE,
    PHASE_RETRY,
    PHASE_HASH,             /* hashing the image as written (after a resume or rescue) */
    PHASE_VERIFY,
    PHASE_FINISHED,
};

struct copy_progress {
    _Atomic int phase;              /* engine writes; anyone reads */
    _Atomic int pass;               /* rescue pass number within the phase */
    _Atomic uint64_t bytes_total;   /* engine: bytes of the domain */
    _Atomic uint64_t bytes_done;    /* engine: finished on every live target (or verified, in verify) */
    _Atomic uint64_t bytes_bad;     /* engine: unreadable so far */
    _Atomic uint64_t bad_areas;     /* engine: separate unreadable areas */
    _Atomic uint64_t rate_now;      /* engine: bytes/s over the last second or so */
    _Atomic uint64_t rate_avg;      /* engine: bytes/s since the phase began */
    _Atomic uint64_t pos;           /* engine: where the reader is */
    _Atomic int cancel;             /* anyone (a signal handler too) sets 1; engine reads */
    /* Every phase entered, in order (a phase may be over before a UI looks). */
    _Atomic unsigned char phase_history[32];
    _Atomic unsigned phases_entered;
    int event_fd;                   /* set before start; -1 for none */
};

const char *progress_phase_name(enum copy_phase phase);

/* The clock behind rate_now and rate_avg. */
struct progress_clock {
    double start, last;
    uint64_t last_done;
};
void progress_clock_start(struct progress_clock *c);
/* Engine side, as often as it likes: about once a second, set rate_now
 * (smoothed) and rate_avg from bytes_done and announce it. true when it did. */
bool progress_rate_tick(struct copy_progress *p, struct progress_clock *c);

/* Engine side: enter a phase (recorded in phase_history) and announce it. */
void progress_set_phase(struct copy_progress *p, enum copy_phase phase);

/* Engine side: announce a state change on event_fd (no-op when -1). */
void progress_notify(struct copy_progress *p);

#endif
