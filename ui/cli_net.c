/* cli_net: one image to a room of PCs over the network (udpcast).
 *   clonebay send IMAGE [--clients N] [--wait SECONDS] [--max-bitrate RATE] [--interface IF]
 *   clonebay receive DST [DST...] [--interface IF] [--wait SECONDS] [--yes] [--report FILE]
 *   clonebay netboot --interface IF [--range FIRST,LAST] [--files DIR]
 * The sender shows each receiver as udp-sender reports it; the receiver is a
 * restore whose image arrives as a stream (jobs/net_receive.c). */
#include "common/units.h"
#include "devices/dev_ident.h"
#include "devices/dev_scan.h"
#include "jobs/job_run.h"
#include "jobs/net_boot.h"
#include "jobs/net_receive.h"
#include "jobs/net_send.h"
#include "ui/cli.h"

#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef CLONEBAY_VERSION
#define CLONEBAY_VERSION "0.0.0-dev"
#endif

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void send_usage(FILE *f)
{
    fputs("Usage: clonebay send IMAGE [OPTIONS]\n"
          "Send a clonebay image as it is (its compressed frames) to every PC running\n"
          "'clonebay receive' on the network, at once (udpcast multicast). A receiver that\n"
          "stops answering is dropped and the others go on.\n"
          "  --clients N          start once N receivers joined (default 1)\n"
          "  --wait SECONDS       or start SECONDS after the first joined, with those there\n"
          "  --max-bitrate RATE   at most RATE on the wire (udpcast syntax: 500m, 80000k)\n"
          "  --interface IF       the network interface (default: udp-sender's, eth0)\n"
          "  --report FILE        write the JSON report to FILE (the text report goes to stdout)\n"
          "Exit: 0 every receiver got the whole image, 1 some did not or the session failed,\n"
          "2 refused before sending (not an image, bad option).\n", f);
}

static bool bitrate_ok(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n > 0 && (s[n] == '\0' || (strchr("kKmMgG", s[n]) && s[n + 1] == '\0'));
}

static int positive(const char *opt, const char *arg, int *out)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || n < 1 || n > 100000)
        return cli_fail(CLI_REFUSED, "%s needs a number from 1 to 100000, not '%s'", opt, arg);
    *out = (int)n;
    return 0;
}

/* Each receiver's change of state, once, as a line on stderr. */
static void say_changes(const struct net_send *s, enum net_rx_state *seen, int *nseen)
{
    for (int i = 0; i < s->nrx; i++) {
        const struct net_receiver *r = &s->rx[i];
        if (i < *nseen && seen[i] == r->state)
            continue;
        fprintf(stderr, "receiver %s %s\n", r->addr, net_rx_state_name(r->state));
        seen[i] = r->state;
    }
    *nseen = s->nrx;
}

static void draw(const struct net_send *s)
{
    char a[32], b[32], r[32];
    int receiving = 0;
    for (int i = 0; i < s->nrx; i++)
        receiving += s->rx[i].state == NET_RX_RECEIVING;
    units_format_bytes(s->bytes_sent, a, sizeof(a));
    units_format_bytes(s->image_bytes, b, sizeof(b));
    units_format_bytes((uint64_t)net_send_rate(s), r, sizeof(r));
    if (s->started)
        fprintf(stderr, "\rsend  %s / %s  %s/s  %d receiving, %d joined\033[K", a, b, r, receiving, s->nrx);
    else
        fprintf(stderr, "\rsend  waiting for receivers: %d joined\033[K", s->nrx);
}

int cli_send(int argc, char **argv)
{
    static const struct option opts[] = {
        { "clients", required_argument, NULL, 'c' },     { "wait", required_argument, NULL, 'w' },
        { "max-bitrate", required_argument, NULL, 'b' }, { "interface", required_argument, NULL, 'i' },
        { "report", required_argument, NULL, 'r' },      { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct net_send_request req = { 0 };
    const char *report_path = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': if (positive("send: --clients", optarg, &req.clients)) return CLI_REFUSED; break;
        case 'w': if (positive("send: --wait", optarg, &req.wait_s)) return CLI_REFUSED; break;
        case 'b':
            if (!bitrate_ok(optarg))
                return cli_fail(CLI_REFUSED, "send: --max-bitrate needs a rate such as 500m or 80000k, not '%s'",
                                optarg);
            req.max_bitrate = optarg;
            break;
        case 'i': req.interface = optarg; break;
        case 'r': report_path = optarg; break;
        case 'h': send_usage(stdout); return CLI_OK;
        default:
            return cli_fail(CLI_REFUSED, "send: unknown option '%s' (try 'clonebay send --help')", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        send_usage(stderr);
        return CLI_REFUSED;
    }
    req.image = argv[optind];
    static struct net_send s;       /* large: not on the stack */
    struct cb_error err = { 0 };
    if (net_send_prepare(&s, &req, &err))
        return cli_fail(CLI_REFUSED, "refused, nothing was sent: %s", err.msg);
    struct sigaction sa = { .sa_handler = on_stop };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (net_send_start(&s, &req, &err))
        return cli_fail(CLI_FAILED, "%s", err.msg);
    fprintf(stderr, "sending %s; waiting for %d receiver%s%s\n", s.image, req.clients > 0 ? req.clients : 1,
            req.clients > 1 ? "s" : "", req.wait_s ? " (or the wait)" : "");
    bool tty = isatty(STDERR_FILENO);
    enum net_rx_state seen[NET_MAX_RECEIVERS];
    int nseen = 0;
    for (bool done = false; !done;) {
        if (stop_requested) {
            net_send_cancel(&s);
            break;
        }
        struct pollfd p = { .fd = net_send_fd(&s), .events = POLLIN };
        poll(&p, 1, 500);
        done = net_send_pump(&s);
        if (tty)
            fputs("\r\033[K", stderr);
        say_changes(&s, seen, &nseen);
        if (tty && !done)
            draw(&s);
    }
    net_send_report_text(&s, CLONEBAY_VERSION, stdout);
    fflush(stdout);
    int code = s.complete && net_send_finished(&s) == s.nrx && s.nrx > 0 ? CLI_OK : CLI_FAILED;
    if (report_path && net_send_report_json(&s, CLONEBAY_VERSION, report_path, &err))
        code = cli_fail(CLI_FAILED, "%s", err.msg);
    char said[700];
    net_send_said(&s, said, sizeof(said));
    if (code && !s.complete)
        cli_fail(code, "the session did not complete%s%s", said[0] ? "; udp-sender said: " : "", said);
    return code;
}

static void receive_usage(FILE *f)
{
    fputs("Usage: clonebay receive DST [DST...] [OPTIONS]\n"
          "Join the session of a 'clonebay send' on the network and restore the image it\n"
          "sends onto every DST at once, with the checks of 'clonebay restore': the image's\n"
          "header is read before anything is written (a drive too small for it, or a stream\n"
          "that is not an image, is refused), every frame's checksum and the image's recorded\n"
          "sha256 are checked, and every DST is read back from the media to verify it.\n"
          "  --interface IF       the network interface (default: udp-receiver's, eth0)\n"
          "  --wait SECONDS       give up when no sender starts a session within SECONDS\n"
          "  --report FILE        write the JSON report to FILE (the text report goes to stdout)\n"
          "  --yes                do not ask before overwriting the targets\n"
          "Exit: 0 done and verified, 1 failed or cancelled, 2 refused before writing.\n", f);
}

/* The targets as they are now, asked about before joining (a session waits
 * for no one); their identities go into the request, so the drives written
 * are the ones confirmed however long the wait for the sender. */
static bool confirm_targets(const char *const *targets, size_t n, struct dev_ident *idents)
{
    struct dev_list devs = { 0 };
    struct cb_error err = { 0 };
    dev_scan(&(struct dev_scan_opts){ .only = targets }, &devs, &err);
    fprintf(stderr, "The image that comes from the network will be written onto:\n");
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        const struct dev_drive *d = NULL;
        for (size_t k = 0; stat(targets[i], &st) == 0 && S_ISBLK(st.st_mode) && k < devs.count; k++)
            if (makedev(devs.drives[k].major, devs.drives[k].minor) == st.st_rdev)
                d = &devs.drives[k];
        if (!d) {
            fprintf(stderr, "  %s  (not a drive clonebay lists)\n", targets[i]);
            continue;
        }
        char sz[32], contents[512];
        units_format_bytes(d->size, sz, sizeof(sz));
        job_drive_contents(d, contents, sizeof(contents));
        fprintf(stderr, "  %s  %s  %s%s%s  serial %s  %s\n      now holds: %s\n", targets[i], dev_kind_name(d->kind),
                d->vendor, d->vendor[0] ? " " : "", d->kind == DEV_KIND_LOOP ? d->backing_file : d->model,
                d->serial[0] ? d->serial : "-", sz, contents);
        dev_ident_of(d, &idents[i]);
    }
    dev_list_free(&devs);
    fprintf(stderr, "Everything on %s will be overwritten. Type 'yes' to go on: ", n > 1 ? "these targets" : "this target");
    char line[32];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    line[strcspn(line, "\n")] = '\0';
    return strcmp(line, "yes") == 0;
}

/* The restore, once the header is in: prepared (every refusal), run, reported. */
static int receive_run(struct net_receive *r, struct job_request *req, const char *report_path)
{
    struct job *job;
    struct cb_error err = { 0 };
    char sender[64];
    char source[128];
    net_receive_sender(r, sender, sizeof(sender));
    snprintf(source, sizeof(source), "udp-sender at %s", sender[0] ? sender : "(address not reported)");
    req->source = source;
    req->stream = &r->stream;
    if (job_prepare(req, &job, &err))
        return cli_fail(CLI_REFUSED, "refused, nothing was written: %s", err.msg);
    const struct img_meta *m = &r->stream.meta;
    job_note(job, "received over the network from %s: an image of %s made %s by %s", source,
                   m->source_model[0] ? m->source_model : m->source_path,
                   m->created, m->tool_version);
    int code = cli_run_job(job, report_path);
    job_free(job);
    return code;
}

int cli_receive(int argc, char **argv)
{
    static const struct option opts[] = {
        { "interface", required_argument, NULL, 'i' }, { "wait", required_argument, NULL, 'w' },
        { "report", required_argument, NULL, 'r' },    { "yes", no_argument, NULL, 'y' },
        { "help", no_argument, NULL, 'h' },            { 0 },
    };
    const char *interface = NULL, *report_path = NULL;
    int wait_s = 0, c;
    bool yes = false;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': interface = optarg; break;
        case 'w': if (positive("receive: --wait", optarg, &wait_s)) return CLI_REFUSED; break;
        case 'r': report_path = optarg; break;
        case 'y': yes = true; break;
        case 'h': receive_usage(stdout); return CLI_OK;
        default:
            return cli_fail(CLI_REFUSED, "receive: unknown option '%s' (try 'clonebay receive --help')",
                            argv[optind - 1]);
        }
    }
    if (argc - optind < 1 || argc - optind > JOB_MAX_TARGETS) {
        receive_usage(stderr);
        return CLI_REFUSED;
    }
    static struct net_receive r;
    struct dev_ident idents[JOB_MAX_TARGETS] = { 0 };
    struct job_request req = {
        .kind = JOB_RESTORE, .source = "the network", .targets = (const char *const *)&argv[optind],
        .ntargets = (size_t)(argc - optind), .hash_mask = 1u << HASH_SHA256, .verify = true, .retries = 1,
        .target_idents = idents, .stream = &r.stream,
    };
    struct cb_error err = { 0 };
    /* What needs no image (mounted, system, read-only, busy, twice) is refused before joining. */
    if (job_preflight(&req, &err))
        return cli_fail(CLI_REFUSED, "refused, nothing was written: %s", err.msg);
    if (!yes && !isatty(STDIN_FILENO))
        return cli_fail(CLI_REFUSED, "refused, nothing was written: no terminal to confirm on; pass --yes to "
                        "overwrite the targets");
    if (!yes && !confirm_targets(req.targets, req.ntargets, idents))
        return cli_fail(CLI_REFUSED, "not confirmed, nothing was written");
    fprintf(stderr, "waiting for a sender%s%s...\n", interface ? " on " : "", interface ? interface : "");
    if (net_receive_join(&r, interface, wait_s, NULL, &err)) {
        net_receive_end(&r);
        return cli_fail(CLI_REFUSED, "refused, nothing was written: %s", err.msg);
    }
    char sz[32];
    fprintf(stderr, "receiving %s: %s of disk\n", r.stream.name, units_format_bytes(r.stream.meta.size, sz, sizeof(sz)));
    int code = receive_run(&r, &req, report_path);
    net_receive_end(&r);
    return code;
}

static void netboot_usage(FILE *f)
{
    fputs("Usage: clonebay netboot --interface IF [--range FIRST,LAST] [--files DIR]\n"
          "Boot a room of PCs from the network (PXE, BIOS and UEFI) into the live clonebay\n"
          "system, with dnsmasq: DHCP leasing FIRST..LAST, or without --range proxy-DHCP\n"
          "beside the room's own DHCP server; TFTP serves the loaders and the live kernel\n"
          "and initramfs (DIR/vmlinuz and DIR/initrd.zst: 'make netboot' builds them into\n"
          "BUILD/netboot, the default). Runs until Ctrl-C; shows each PC as it boots.\n", f);
}

int cli_netboot(int argc, char **argv)
{
    static const struct option opts[] = {
        { "interface", required_argument, NULL, 'i' }, { "range", required_argument, NULL, 'r' },
        { "files", required_argument, NULL, 'f' },     { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct net_boot_request req = { 0 };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': req.interface = optarg; break;
        case 'r': req.range = optarg; break;
        case 'f': req.files = optarg; break;
        case 'h': netboot_usage(stdout); return CLI_OK;
        default:
            return cli_fail(CLI_REFUSED, "netboot: unknown option '%s' (try 'clonebay netboot --help')",
                            argv[optind - 1]);
        }
    }
    if (argc != optind) {
        netboot_usage(stderr);
        return CLI_REFUSED;
    }
    static struct net_boot b;
    struct cb_error err = { 0 };
    if (net_boot_prepare(&b, &req, &err))
        return cli_fail(CLI_REFUSED, "netboot: %s", err.msg);
    struct sigaction sa = { .sa_handler = on_stop };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (net_boot_start(&b, &req, &err)) {
        net_boot_stop(&b);
        return cli_fail(CLI_FAILED, "netboot: %s", err.msg);
    }
    if (req.range)
        fprintf(stderr, "netboot on %s: leasing %s, serving the live system from %s\n", req.interface, req.range,
                b.files);
    else
        fprintf(stderr, "netboot on %s: proxy-DHCP on %s beside its DHCP server, serving the live system from %s\n",
                req.interface, b.proxy_net, b.files);
    unsigned shown = 0;
    bool ended = false;
    while (!stop_requested && !ended) {
        struct pollfd p = { .fd = net_boot_fd(&b), .events = POLLIN };
        poll(&p, 1, 500);
        ended = net_boot_pump(&b);
        for (; shown < b.nevents; shown++)
            if (b.nevents - shown <= NET_BOOT_EVENTS)
                fprintf(stderr, "netboot: %s\n", net_boot_event(&b, shown));
    }
    net_boot_stop(&b);
    if (ended && !stop_requested)
        return cli_fail(CLI_FAILED, "netboot: dnsmasq stopped (exit %d): %s", b.tool.exit_status, b.said);
    return CLI_OK;
}
