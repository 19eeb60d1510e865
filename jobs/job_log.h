/* job_log: the station's log file beside the reports, REPORTS/jobs.log.
 *
 * A job's lines are kept in memory (struct qjob) and its report is written
 * when it ends. A job refused before it started and withdrawn from the queue
 * (its refusal shown where Y was pressed) gets no report, and a refusal that
 * comes before any job is queued has no job at all: each of these is appended
 * here, as is what the station does besides jobs (files copied out of an
 * image), so the day's file holds every refusal the screen showed. */
#ifndef CB_JOB_LOG_H
#define CB_JOB_LOG_H

#include "common/cb_error.h"

#include <stddef.h>

struct qjob;

#define JOB_LOG_NAME "jobs.log"

/* Append one line, stamped with the date and time, to REPORTS/jobs.log
 * (made if need be; a link or device planted under the name is refused,
 * never followed). 0 or -errno. */
int job_log_append(const char *reports_dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append a job's kept log lines under a line naming it and saying why. */
int job_log_job(const char *reports_dir, const struct qjob *j, const char *why);
/* The file's path, for messages. */
void job_log_path(const char *reports_dir, char *path, size_t len);

#endif
