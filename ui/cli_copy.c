/* cli_copy: the commands that run a copy job from the command line:
 * `clonebay clone SRC DST...`, `clonebay image SRC FILE`, `clonebay restore FILE DST...`.
 * One parser, one confirmation, one progress line and report for all three. */
#include "common/units.h"
#include "jobs/job_run.h"
#include "jobs/image_job.h"
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

static void usage(enum job_kind kind, FILE *f)
{
    if (kind == JOB_CLONE)
        fputs("Usage: clonebay clone SRC DST [DST...] [OPTIONS]\n"
              "Copy SRC to every DST (drives, or files), reading SRC once, hashing the stream,\n"
              "then re-reading every DST from the media to verify it. A DST named FILE.zst is\n"
              "an image made from the same read (one per job; see clonebay image).\n"
              "  --hash ALG[,ALG...]  md5, sha1, sha256, sha512, or none (default sha256)\n"
              "  --no-verify          skip the verification pass\n"
              "  --map FILE           keep a GNU ddrescue mapfile; an existing one resumes the job\n"
              "  --report FILE        write the JSON report to FILE (the text report goes to stdout)\n"
              "  --yes                do not ask before overwriting the targets\n"
              "  --max-read-rate N    read at most N bytes per second (50M, 1G): spares a weak drive\n"
              "  --retries N          passes over bad sectors after trimming and scraping (default 1)\n"
              "  --fill PATTERN       write PATTERN (e.g. BADSECTOR) over unreadable sectors, not zeros\n"
              "  --mode raw|used      raw: every sector; used: partition tables, gaps and only the\n"
              "                       blocks ext2/3/4, FAT and NTFS use (swap: its header); EFI and\n"
              "                       BIOS boot partitions and other filesystems whole. Hashes then\n"
              "                       cover the copied blocks. Default: used when every partition\n"
              "                       holds one of those filesystems (or is a boot partition), else raw\n"
              "  --resize proportional|keep   a target of another size: proportional (default)\n"
              "                       scales the data partitions with the drive (boot partitions\n"
              "                       keep their size), grows ext/NTFS/swap to fill them, and with\n"
              "                       --mode used shrinks ext onto smaller drives; keep copies the\n"
              "                       table unchanged\n"
              "A read error never stops the job: failed areas are skipped, then trimmed, scraped\n"
              "and retried sector by sector, as GNU ddrescue does; what stays unreadable is listed.\n", f);
    else if (kind == JOB_IMAGE)
        fputs("Usage: clonebay image SRC FILE [OPTIONS]\n"
              "Save drive SRC as FILE.zst: a seekable zstd file that any zstd decompresses to the\n"
              "raw disk, or as a sparse raw FILE.img. Written to FILE.partial, read back and\n"
              "checked, then renamed.\n"
              "  --level N            zstd level 1..19 (default 3)\n"
              "  --split SIZE         parts FILE.zst.000, .001, ... of at most SIZE (4G for FAT32)\n"
              "  --raw                a plain raw image (also chosen by a name ending in .img)\n"
              "  --force              replace an existing image of that name\n"
              "  --hash ALG[,ALG...]  md5, sha1, sha256, sha512, or none (default sha256)\n"
              "  --no-verify          do not read the image back\n"
              "  --report FILE        write the JSON report to FILE\n"
              "  --mode raw|used      as for clone (same default); used stores free space as zeros\n"
              "                       without reading it, and records the used blocks so a restore\n"
              "                       can fit the partitions onto a drive of any size\n"
              "  --optical            image only the ISO 9660 volume (set by a name ending in .iso or\n"
              "                       .iso.zst): a disc's run-out is not read; sha256 and md5 and\n"
              "                       3 retry passes by default\n"
              "  --retries N, --fill PATTERN, --max-read-rate N   as for clone: the same rescue\n"
              "  --map FILE           as for clone: an image stopped (even by a power cut) goes on\n"
              "                       from FILE.partial when the same command runs again\n", f);
    else
        fputs("Usage: clonebay restore FILE DST [DST...] [OPTIONS]\n"
              "Write image FILE (FILE.zst, its parts FILE.zst.000..., or a raw FILE.img) to every DST\n"
              "at once, then read every DST back from the media to verify it. The image is checked\n"
              "whole (header, seek table, metadata) before anything is written. FILE may be\n"
              "http://HOST[:PORT]/PATH.zst on a server that answers byte ranges (busybox httpd,\n"
              "nginx): only the frames a restore needs cross the network.\n"
              "  --hash ALG[,ALG...]  digests to report (default sha256)\n"
              "  --no-verify          skip the verification pass\n"
              "  --report FILE        write the JSON report to FILE\n"
              "  --yes                do not ask before overwriting the targets\n"
              "  --resize proportional|keep   a drive of another size: as for clone; an image made\n"
              "                       with --mode used restores only the used blocks and can shrink\n"
              "                       ext onto a smaller drive\n", f);
    fputs("Exit: 0 done (and verified), 1 failed or cancelled, 2 refused before writing,\n"
          "3 finished with unreadable sectors.\n", f);
}

static bool confirm(const struct job *job)
{
    char health[400];
    fprintf(stderr, "About to %s %s (%s %s) onto:\n", job->kind == JOB_RESTORE ? "restore" : "copy",
            job->source.path, job->source.model, job->source.serial);
    if (job->source.has_health) {
        dev_health_summary(&job->source.health, health, sizeof(health));
        fprintf(stderr, "  source health: %s\n", health);
        if (job->source.health.state == DEV_HEALTH_FAILING && (job->retries < 3 || !job->map_path[0]))
            fprintf(stderr, "  the source is failing: the rescue settings suit it better (--retries 3 --map FILE: "
                    "a crash or a pulled cable resumes from the map); answer no to start again with them\n");
    }
    for (size_t i = 0; i < job->ntargets; i++) {
        const struct job_endpoint *t = &job->targets[i];
        char sz[32];
        units_format_bytes(t->size, sz, sizeof(sz));
        fprintf(stderr, "  %s  %s  %s  serial %s  %s\n      now holds: %s\n", t->path, t->kind,
                t->model[0] ? t->model : "-", t->serial[0] ? t->serial : "-", sz,
                t->contents[0] ? t->contents : "(new file)");
        if (t->has_health) {
            dev_health_summary(&t->health, health, sizeof(health));
            fprintf(stderr, "      health: %s\n", health);
        }
    }
    fprintf(stderr, "Everything on %s will be overwritten. Type 'yes' to go on: ",
            job->ntargets > 1 ? "these targets" : "this target");
    char line[32];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    line[strcspn(line, "\n")] = '\0';
    return strcmp(line, "yes") == 0;
}

/* Wait for the job, redrawing the progress line on a terminal. */
static void watch(struct job *job, int efd)
{
    bool tty = isatty(STDERR_FILENO);
    while (!atomic_load(&job->run_finished)) {
        struct pollfd p = { .fd = efd, .events = POLLIN };
        if (poll(&p, 1, 500) > 0) {
            uint64_t v;
            ssize_t n = read(efd, &v, sizeof(v));
            (void)n;
        }
        if (tty)
            progress_line_draw(&job->progress, stderr);
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
    case OUTCOME_REFUSED:     return CLI_REFUSED;
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

static int cli_copy(enum job_kind kind, int argc, char **argv)
{
    static const char *const names[] = { [JOB_CLONE] = "clone", [JOB_IMAGE] = "image", [JOB_RESTORE] = "restore" };
    const char *name = names[kind];
    static const struct option opts[] = {
        { "hash", required_argument, NULL, 'H' }, { "no-verify", no_argument, NULL, 'n' },
        { "map", required_argument, NULL, 'm' },  { "report", required_argument, NULL, 'r' },
        { "yes", no_argument, NULL, 'y' },        { "help", no_argument, NULL, 'h' },
        { "max-read-rate", required_argument, NULL, 'R' },
        { "retries", required_argument, NULL, 't' },  { "fill", required_argument, NULL, 'f' },
        { "level", required_argument, NULL, 'l' },    { "split", required_argument, NULL, 's' },
        { "raw", no_argument, NULL, 'w' },            { "force", no_argument, NULL, 'F' },
        { "optical", no_argument, NULL, 'o' },        { "mode", required_argument, NULL, 'M' },
        { "resize", required_argument, NULL, 'Z' },
        { 0 },
    };
    /* Which options make sense where: the rest are refused by name. */
    static const char *const only[] = {
        [JOB_CLONE] = "HnmrytfRMZh", [JOB_IMAGE] = "HnmrytfRlswFoMh", [JOB_RESTORE] = "HnryZh",
    };
    struct job_request req = { .hash_mask = 1u << HASH_SHA256, .verify = true, .retries = 1 };
    bool retries_given = false;
    const char *report_path = NULL;
    bool yes = false, hash_given = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char bad[64] = "";
        if (c != '?' && !strchr(only[kind], c))
            return cli_fail(CLI_REFUSED, "%s: option '%s' does not apply to %s (try 'clonebay %s --help')", name,
                            argv[optind - 1], name, name);
        switch (c) {
        case 'H':
            hash_given = true;
            if (hash_parse_list(optarg, &req.hash_mask, bad, sizeof(bad)))
                return cli_fail(CLI_REFUSED, "%s: unknown hash '%s' (md5, sha1, sha256, sha512 or none)", name,
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
                return cli_fail(CLI_REFUSED, "%s: --retries needs a number from 0 to 1000, not '%s'", name, optarg);
            req.retries = (int)n;
            retries_given = true;
            break;
        }
        case 'f':
            if (!*optarg || strlen(optarg) > 32)
                return cli_fail(CLI_REFUSED, "%s: --fill needs a pattern of 1 to 32 characters", name);
            req.fill = optarg;
            break;
        case 'R':
            if (units_parse_bytes(optarg, &req.max_read_rate) || req.max_read_rate == 0)
                return cli_fail(CLI_REFUSED, "%s: --max-read-rate needs a size per second such as 50M, not '%s'",
                                name, optarg);
            break;
        case 'l': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 19)
                return cli_fail(CLI_REFUSED, "image: --level needs a number from 1 to 19, not '%s'", optarg);
            req.level = (int)n;
            break;
        }
        case 's':
            if (units_parse_bytes(optarg, &req.split) || req.split < (1u << 20))
                return cli_fail(CLI_REFUSED, "image: --split needs a size of at least 1M, such as 4G, not '%s'",
                                optarg);
            break;
        case 'w': req.raw = true; break;
        case 'F': req.force = true; break;
        case 'o': req.optical = true; break;
        case 'M':
            if (strcmp(optarg, "used") && strcmp(optarg, "raw"))
                return cli_fail(CLI_REFUSED, "%s: --mode is raw or used, not '%s'", name, optarg);
            req.mode = !strcmp(optarg, "used") ? COPY_USED : COPY_RAW;
            break;
        case 'Z':
            if (strcmp(optarg, "proportional") && strcmp(optarg, "keep"))
                return cli_fail(CLI_REFUSED, "%s: --resize is proportional or keep, not '%s'", name, optarg);
            req.resize = !strcmp(optarg, "keep") ? RESIZE_KEEP : RESIZE_PROPORTIONAL;
            break;
        case 'h': usage(kind, stdout); return CLI_OK;
        default:
            return cli_fail(CLI_REFUSED, "%s: unknown option '%s' (try 'clonebay %s --help')", name,
                            argv[optind - 1], name);
        }
    }
    if (argc - optind < 2 || (kind == JOB_IMAGE && argc - optind != 2)) {
        usage(kind, stderr);
        return CLI_REFUSED;
    }
    req.kind = kind;
    /* A disc image (the job reads only its ISO 9660 volume): the two digests archives expect. */
    bool disc = req.optical || (kind == JOB_IMAGE && image_job_iso_name(argv[optind + 1]));
    if (disc && !hash_given)
        req.hash_mask = 1u << HASH_SHA256 | 1u << HASH_MD5;
    /* Scratched discs often read on a later pass (the drive recalibrates,
     * re-spins): three retry passes by default, as the station's archive does. */
    if (disc && !retries_given)
        req.retries = 3;

    req.source = argv[optind];
    req.targets = (const char *const *)&argv[optind + 1];
    req.ntargets = (size_t)(argc - optind - 1);
    char *cmdline = join_args(argc, argv);
    req.cmdline = cmdline;

    struct job *job;
    struct cb_error err = { 0 };
    if (job_prepare(&req, &job, &err)) {
        free(cmdline);
        return cli_fail(CLI_REFUSED, "refused, nothing was written: %s", err.msg);
    }
    if (!yes && kind != JOB_IMAGE) {       /* an image is a new file: nothing to overwrite */
        if (!isatty(STDIN_FILENO)) {
            job_free(job);
            free(cmdline);
            return cli_fail(CLI_REFUSED, "refused, nothing was written: no terminal to confirm on; "
                            "pass --yes to overwrite the targets");
        }
        if (!confirm(job)) {
            job_free(job);
            free(cmdline);
            return cli_fail(CLI_REFUSED, "not confirmed, nothing was written");
        }
    }
    int code = cli_run_job(job, report_path);
    job_free(job);
    free(cmdline);
    return code;
}

int cli_run_job(struct job *job, const char *report_path)
{
    struct cb_error err = { 0 };
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    job->progress.event_fd = efd;
    cancel_target = &job->progress;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    pthread_t th;
    pthread_create(&th, NULL, job_thread, job);
    watch(job, efd);
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
    return code;
}

int cli_clone(int argc, char **argv) { return cli_copy(JOB_CLONE, argc, argv); }
int cli_image(int argc, char **argv) { return cli_copy(JOB_IMAGE, argc, argv); }
int cli_restore(int argc, char **argv) { return cli_copy(JOB_RESTORE, argc, argv); }
