#include "jobs/job_log.h"
#include "jobs/qjob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void job_log_path(const char *reports_dir, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", reports_dir, JOB_LOG_NAME);
}

/* Appended to, never created through a link: the reports may be on a drive
 * a customer brought in. */
static int open_log(const char *reports_dir)
{
    char path[4200];
    mkdir(reports_dir, 0755);
    job_log_path(reports_dir, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    return fd;
}

/* Whole lines in one write each: O_APPEND keeps them apart. */
static int put_line(int fd, const char *text)
{
    char stamp[32], line[2048];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    int n = snprintf(line, sizeof(line), "%s %s\n", stamp, text);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    return write(fd, line, (size_t)n) == n ? 0 : -EIO;
}

int job_log_append(const char *reports_dir, const char *fmt, ...)
{
    char text[1900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    int fd = open_log(reports_dir);
    if (fd < 0)
        return fd;
    int rc = put_line(fd, text);
    close(fd);
    return rc;
}

int job_log_job(const char *reports_dir, const struct qjob *j, const char *why)
{
    int fd = open_log(reports_dir);
    if (fd < 0)
        return fd;
    char head[1900];
    int n = snprintf(head, sizeof(head), "job #%d %s %s -> %s", j->id, job_kind_name(j->kind), j->source,
                     j->targets[0]);
    for (size_t t = 1; t < j->ntargets && n > 0 && (size_t)n < sizeof(head); t++)
        n += snprintf(head + n, sizeof(head) - (size_t)n, ", %s", j->targets[t]);
    if (n > 0 && (size_t)n < sizeof(head))
        snprintf(head + n, sizeof(head) - (size_t)n, ": %s", why);
    int rc = put_line(fd, head);
    int first = j->nlog > JQ_LOG_LINES ? j->nlog - JQ_LOG_LINES : 0;
    for (int i = first; i < j->nlog && !rc; i++) {
        char line[sizeof(j->log[0]) + 16];
        snprintf(line, sizeof(line), "  job #%d %s", j->id, j->log[i % JQ_LOG_LINES]);
        rc = put_line(fd, line);
    }
    close(fd);
    return rc;
}
