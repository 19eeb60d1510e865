#include "ui/progress_line.h"
#include "common/units.h"

#include <stdio.h>

void progress_line_format(const struct copy_progress *p, char *buf, size_t len)
{
    uint64_t total = atomic_load(&p->bytes_total), done = atomic_load(&p->bytes_done);
    uint64_t rate = atomic_load(&p->rate_now), bad = atomic_load(&p->bytes_bad);
    int phase = atomic_load(&p->phase);
    char d[32], t[32], eta[32] = "--:--";
    units_format_bytes(done, d, sizeof(d));
    units_format_bytes(total, t, sizeof(t));
    double pct = total ? 100.0 * (double)done / (double)total : 100.0;
    if (rate && total > done && phase == PHASE_COPY) {
        uint64_t s = (total - done) / rate;
        snprintf(eta, sizeof(eta), "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
                 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
    }
    int n = snprintf(buf, len, "%-7s %s / %s  %5.1f%%", progress_phase_name((enum copy_phase)phase), d, t, pct);
    if (phase == PHASE_COPY && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, "  %.0f MB/s  ETA %s", (double)rate / 1e6, eta);
    if (bad && n > 0 && (size_t)n < len) {
        char b[32];
        snprintf(buf + n, len - (size_t)n, "  bad %s", units_format_bytes(bad, b, sizeof(b)));
    }
}

void progress_line_draw(const struct copy_progress *p, FILE *f)
{
    char line[160];
    progress_line_format(p, line, sizeof(line));
    fprintf(f, "\r\033[K%s", line);
    fflush(f);
}

void progress_line_clear(FILE *f)
{
    fputs("\r\033[K", f);
    fflush(f);
}
