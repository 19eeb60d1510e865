#include "clone/progress.h"

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
