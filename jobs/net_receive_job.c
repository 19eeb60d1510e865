#include "jobs/net_receive_job.h"
#include "common/run_tool.h"
#include "jobs/net_receive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The live system's udhcpc hook (iso/udhcpc.script): the address with its broadcast. */
#define NET_DHCP_SCRIPT "/usr/share/udhcpc/default.script"
#define NET_DHCP_MAX 8

/* The receive being joined or run: its stream is what the job reads. */
struct receive_ctx {
    struct net_receive r;
    char source[128];
};

static bool has_ipv4(const struct ifaddrs *all, const char *name)
{
    for (const struct ifaddrs *a = all; a; a = a->ifa_next)
        if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET && !strcmp(a->ifa_name, name))
            return true;
    return false;
}

bool net_first_interface(char *buf, size_t len)
{
    struct ifaddrs *all;
    bool found = false;
    if (getifaddrs(&all) != 0)
        return false;
    for (const struct ifaddrs *a = all; a && !found; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_LOOPBACK) ||
            !(a->ifa_flags & IFF_UP))
            continue;
        snprintf(buf, len, "%s", a->ifa_name);
        found = true;
    }
    freeifaddrs(all);
    return found;
}

int net_dhcp_up(char *said, size_t len)
{
    char names[NET_DHCP_MAX][IF_NAMESIZE + 1];
    int n = 0;
    said[0] = '\0';
    struct ifaddrs *all = NULL;
    DIR *d = opendir("/sys/class/net");
    if (!d || getifaddrs(&all) != 0) {
        if (d)
            closedir(d);
        return -errno;
    }
    struct dirent *e;
    while ((e = readdir(d)) && n < NET_DHCP_MAX) {
        char wl[300];
        struct stat sb;
        snprintf(wl, sizeof(wl), "/sys/class/net/%s/wireless", e->d_name);
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "lo") || strlen(e->d_name) > IF_NAMESIZE ||
            stat(wl, &sb) == 0 || has_ipv4(all, e->d_name))
            continue;
        snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
    }
    closedir(d);
    freeifaddrs(all);
    pid_t pids[NET_DHCP_MAX];
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC), rc = 0;
    for (int i = 0; i < n; i++) {
        char out[256];
        const char *up[] = { "ip", "link", "set", names[i], "up", NULL };
        run_tool(up, out, sizeof(out));
        /* -b: in the background once bound, or after its first tries fail (no server yet). */
        const char *argv[] = { "udhcpc", "-b", "-i", names[i], "-s", NET_DHCP_SCRIPT, NULL };
        if ((rc = run_tool_spawn(argv, null, -1, &pids[i])) != 0) {
            n = i;
            break;
        }
        size_t at = strlen(said);
        snprintf(said + at, len - at, "%s%s", at ? ", " : "", names[i]);
    }
    for (int i = 0; i < n; i++)
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
            ;
    if (null >= 0)
        close(null);
    return rc;
}

static int receive_open(struct job *job, struct job_request *req, struct cb_error *err)
{
    const struct net_receive_opts *o = req->join_arg;
    char ifname[32], asked[256] = "";
    req->stream = NULL;
    if (o->dhcp && net_dhcp_up(asked, sizeof(asked)) == 0 && asked[0])
        job_note(job, "DHCP (udhcpc) asked for an address on %s", asked);
    if (o->interface[0])
        snprintf(ifname, sizeof(ifname), "%s", o->interface);
    else if (!net_first_interface(ifname, sizeof(ifname)))
        return cb_error_set(err, -ENETDOWN, "no network interface has an address%s%s: nothing to receive on; "
                            "nothing was written", asked[0] ? " (DHCP asked on " : "", asked[0] ? asked : "");
    struct receive_ctx *x = calloc(1, sizeof(*x));
    if (!x)
        return cb_error_set(err, -ENOMEM, "out of memory");
    int rc = net_receive_join(&x->r, ifname, o->wait_s, &job->progress.cancel, err);
    if (rc) {
        net_receive_end(&x->r);
        free(x);
        return rc;
    }
    char sender[64];
    net_receive_sender(&x->r, sender, sizeof(sender));
    snprintf(x->source, sizeof(x->source), "udp-sender at %s", sender[0] ? sender : "(address not reported)");
    snprintf(job->source.path, sizeof(job->source.path), "%s", x->source);
    req->source = x->source;
    req->stream = &x->r.stream;
    const struct img_meta *m = &x->r.stream.meta;
    job_note(job, "received over the network on %s from %s: an image of %s made %s by %s", ifname,
                   x->source, m->source_model[0] ? m->source_model : m->source_path, m->created, m->tool_version);
    return 0;
}

static void receive_close(struct job *job, struct job_request *req)
{
    if (!req->stream)
        return;
    struct receive_ctx *x = (struct receive_ctx *)(void *)((char *)req->stream - offsetof(struct receive_ctx, r.stream));
    job->stream = NULL;     /* it goes now: nothing reads it after the run */
    net_receive_end(&x->r);
    free(x);
    req->stream = NULL;
}

static const struct stream_join receive_join = { .open = receive_open, .close = receive_close };

void net_receive_job_request(struct job_request *req, const struct net_receive_opts *opts)
{
    *req = (struct job_request){
        .kind = JOB_RESTORE, .source = "the network", .hash_mask = 1u << HASH_SHA256, .verify = true,
        .retries = 1, .join = &receive_join, .join_arg = opts,
    };
}
