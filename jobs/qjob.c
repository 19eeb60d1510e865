#include "jobs/qjob.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

const char *qjob_state_name(enum qjob_state s)
{
    static const char *const names[] = {
        [QJOB_QUEUED] = "queued", [QJOB_RUNNING] = "running", [QJOB_DONE] = "done",
        [QJOB_DONE_BAD] = "done with bad sectors", [QJOB_FAILED] = "failed", [QJOB_CANCELLED] = "cancelled",
    };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

void qjob_log(struct qjob *j, const char *fmt, ...)
{
    char *line = j->log[j->nlog % JQ_LOG_LINES];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t n = strftime(line, 16, "%H:%M:%S ", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(j->log[0]) - n, fmt, ap);
    va_end(ap);
    j->nlog++;
}
