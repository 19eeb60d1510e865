/* cli_clone: `clonebay clone SRC DST [DST...]`: the engine from the command line. */
#include "common/units.h"
#include "jobs/clone_job.h"
#include "jobs/report.h"
#include "ui/cli.h"
#include "ui/progress_line.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#ifndef CLONEBAY_VERSION
#define CLONEBAY_VERSION "0.0.0-dev"
#endif

/* The job a signal cancels; ui/ owns this one global. */
static struct copy_progress *volatile cancel_target;

static void on_signal(int sig)
{
    (void)sig;
    if (cancel_target)
        atomic_store(&cancel_target->cancel, 1);
}

static void usage(FILE *f)
{
    fputs("Usage: clonebay clone SRC DST [DST...] [OPTIONS]\n"
          "Copy SRC to every DST (drives, or files), reading SRC once, hashing the stream,\n"
          "then re-reading every DST from the media to verify it.\n"
          "  --hash ALG[,ALG...]  md5, sha1, sha256, sha512, or none (default sha256)\n"
          "  --no-verify          skip the verification pass\n"
          "  --map FILE           keep a GNU ddrescue mapfile; an existing one resumes the job\n"
          "A read error never stops the job: failed areas are skipped, then trimmed, scraped\n"
          "and retried sector by sector, as GNU ddrescue does; what stays unreadable is listed.\n"
          "  --report FILE        write the JSON report to FILE (the text report goes to stdout)\n"
          "  --yes                do not ask before overwriting the targets\n"
          "  --max-read-rate N    read at most N bytes per second (50M, 1G): spares a weak drive\n"
          "  --retries N          passes over bad sectors after trimming and scraping (default 1)\n"
          "  --fill PATTERN       write PATTERN (e.g. BADSECTOR) over unreadable sectors, not zeros\n"
          "Exit: 0 copied (and verified), 1 failed or cancelled, 2 refused before writing,\n"
          "3 finished with unreadable sectors.\n", f);
}

static bool confirm(const struct clone_job *job)
{
    fprintf(stderr, "About to copy %s (%s %s) onto:\n", job->source.path, job->source.model, job->source.serial);
    for (size_t i = 0; i < job->ntargets; i++) {
        const struct job_endpoint *t = &job->targets[i];
        char sz[32];
        units_format_bytes(t->size, sz, sizeof(sz));
        fprintf(stderr, "  %s  %s  %s  serial %s  %s\n      now holds: %s\n", t->path, t->kind,
                t->model[0] ? t->model : "-", t->serial[0] ? t->serial : "-", sz,
                t->contents[0] ? t->contents : "(new file)");
    }
    fprintf(stderr, "Everything on %s will be overwritten. Type 'yes' to go on: ",
            job->ntargets > 1 ? "these targets" : "this target");
    char line[32];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    line[strcspn(line, "\n")] = '\0';
    return strcmp(line, "yes") == 0;
}

struct runner {
    struct clone_job *job;
    _Atomic int done;
};

static void *run_job(void *arg)
{
    struct runner *r = arg;
    clone_job_run(r->job);
    atomic_store(&r->done, 1);
    progress_notify(&r->job->progress);
    return NULL;
}

/* Wait for the job, redrawing the progress line on a terminal. */
static void watch(struct runner *r, int efd)
{
    bool tty = isatty(STDERR_FILENO);
    while (!atomic_load(&r->done)) {
        struct pollfd p = { .fd = efd, .events = POLLIN };
        if (poll(&p, 1, 500) > 0) {
            uint64_t v;
            ssize_t n = read(efd, &v, sizeof(v));
            (void)n;
        }
        if (tty)
            progress_line_draw(&r->job->progress, stderr);
    }
    if (tty)
        progress_line_clear(stderr);
}

static int exit_code(enum job_outcome o)
{
    switch (o) {
    case OUTCOME_VERIFIED:
    case OUTCOME_COPIED:      return CLI_OK;
    case OUTCOME_BAD_SECTORS: return CLI_BAD_SECTORS;
    default:                  return CLI_FAILED;
    }
}

static char *join_args(int argc, char **argv)
{
    size_t n = 16;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    strcpy(s, "clonebay");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

int cli_clone(int argc, char **argv)
{
    static const struct option opts[] = {
        { "hash", required_argument, NULL, 'H' }, { "no-verify", no_argument, NULL, 'n' },
        { "map", required_argument, NULL, 'm' },  { "report", required_argument, NULL, 'r' },
        { "yes", no_argument, NULL, 'y' },        { "help", no_argument, NULL, 'h' },
        { "max-read-rate", required_argument, NULL, 'R' },
        { "retries", required_argument, NULL, 't' },  { "fill", required_argument, NULL, 'f' },
        { 0 },
    };
    struct clone_request req = { .hash_mask = 1u << HASH_SHA256, .verify = true, .retries = 1 };
    const char *report_path = NULL;
    bool yes = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char bad[64] = "";
        switch (c) {
        case 'H':
            if (hash_parse_list(optarg, &req.hash_mask, bad, sizeof(bad)))
                return cli_fail(CLI_REFUSED, "clone: unknown hash '%s' (md5, sha1, sha256, sha512 or none)",
                                bad[0] ? bad : optarg);
            break;
        case 'n': req.verify = false; break;
        case 'm': req.map_path = optarg; break;
        case 'r': report_path = optarg; break;
        case 'y': yes = true; break;
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 1000)
                return cli_fail(CLI_REFUSED, "clone: --retries needs a number from 0 to 1000, not '%s'", optarg);
            req.retries = (int)n;
            break;
        }
        case 'f':
            if (!*optarg || strlen(optarg) > 32)
                return cli_fail(CLI_REFUSED, "clone: --fill needs a pattern of 1 to 32 characters");
            req.fill = optarg;
            break;
        case 'R':
            if (units_parse_bytes(optarg, &req.max_read_rate) || req.max_read_rate == 0)
                return cli_fail(CLI_REFUSED, "clone: --max-read-rate needs a size per second such as 50M, not '%s'",
                                optarg);
            break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            return cli_fail(CLI_REFUSED, "clone: unknown option '%s' (try 'clonebay clone --help')",
                            argv[optind - 1]);
        }
    }
    if (argc - optind < 2) {
        usage(stderr);
        return CLI_REFUSED;
    }
    req.source = argv[optind];
    req.targets = (const char *const *)&argv[optind + 1];
    req.ntargets = (size_t)(argc - optind - 1);
    char *cmdline = join_args(argc, argv);
    req.cmdline = cmdline;

    struct clone_job *job;
    struct cb_error err = { 0 };
    if (clone_job_prepare(&req, &job, &err)) {
        free(cmdline);
        return cli_fail(CLI_REFUSED, "refused, nothing was written: %s", err.msg);
    }
    if (!yes) {
        if (!isatty(STDIN_FILENO)) {
            clone_job_free(job);
            free(cmdline);
            return cli_fail(CLI_REFUSED, "refused, nothing was written: no terminal to confirm on; "
                            "pass --yes to overwrite the targets");
        }
        if (!confirm(job)) {
            clone_job_free(job);
            free(cmdline);
            return cli_fail(CLI_REFUSED, "not confirmed, nothing was written");
        }
    }
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    job->progress.event_fd = efd;
    cancel_target = &job->progress;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct runner r = { .job = job };
    pthread_t th;
    pthread_create(&th, NULL, run_job, &r);
    watch(&r, efd);
    pthread_join(th, NULL);
    cancel_target = NULL;

    report_write_text(job, CLONEBAY_VERSION, stdout);
    fflush(stdout);
    int code = exit_code(job->outcome);
    if (report_path && report_save_json(job, CLONEBAY_VERSION, report_path, &err)) {
        cli_fail(CLI_FAILED, "%s", err.msg);
        code = code ? code : CLI_FAILED;
    }
    if (job->outcome != OUTCOME_VERIFIED && job->outcome != OUTCOME_COPIED)
        cli_fail(code, "%s%s%s", job_outcome_name(job->outcome), job->outcome_msg[0] ? ": " : "",
                 job->outcome_msg);
    if (efd >= 0)
        close(efd);
    clone_job_free(job);
    free(cmdline);
    return code;
}
