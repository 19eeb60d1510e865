#include "clone/progress.h"
#include "common/clock.h"

#include <stdint.h>
#include <unistd.h>

const char *progress_phase_name(enum copy_phase phase)
{
    static const char *const names[] = {
        [PHASE_PREPARING] = "preparing", [PHASE_COPY] = "copy", [PHASE_TRIM] = "trim",
        [PHASE_SCRAPE] = "scrape", [PHASE_RETRY] = "retry", [PHASE_HASH] = "hash",
        [PHASE_VERIFY] = "verify", [PHASE_FINISHED] = "finished",
    };
    return (unsigned)phase < sizeof(names) / sizeof(names[0]) ? names[phase] : "?";
}

void progress_notify(struct copy_progress *p)
{
    if (p->event_fd < 0)
        return;
    uint64_t one = 1;
    ssize_t r = write(p->event_fd, &one, sizeof(one));
    (void)r;    /* a full eventfd counter means the UI has not read it yet: fine */
}

void progress_set_phase(struct copy_progress *p, enum copy_phase phase)
{
    unsigned n = atomic_load(&p->phases_entered);
    if (n == 0 || atomic_load(&p->phase_history[(n - 1) % 32]) != phase) {
        atomic_store(&p->phase_history[n % 32], (unsigned char)phase);
        atomic_store(&p->phases_entered, n + 1);
    }
    atomic_store(&p->phase, phase);
    progress_notify(p);
}

void progress_clock_start(struct progress_clock *c)
{
    c->start = c->last = cb_seconds();
    c->last_done = 0;
}

bool progress_rate_tick(struct copy_progress *p, struct progress_clock *c)
{
    double t = cb_seconds();
    if (t - c->last < 1.0)
        return false;
    uint64_t done = atomic_load(&p->bytes_done);
    double inst = (double)(done - c->last_done) / (t - c->last);
    uint64_t prev = atomic_load(&p->rate_now);
    atomic_store(&p->rate_now, prev ? (uint64_t)(0.5 * (double)prev + 0.5 * inst) : (uint64_t)inst);
    atomic_store(&p->rate_avg, (uint64_t)((double)done / (t - c->start)));
    c->last = t;
    c->last_done = done;
    progress_notify(p);
    return true;
}
