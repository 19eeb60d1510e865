#include "jobs/net_boot.h"
#include "common/run_tool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Debian's loaders (packages pxelinux, syslinux-common, syslinux-efi). */
static const struct {
    const char *from, *as, *package;
} loaders[] = {
    { "/usr/lib/PXELINUX/pxelinux.0", "pxelinux.0", "pxelinux" },
    { "/usr/lib/syslinux/modules/bios/ldlinux.c32", "ldlinux.c32", "syslinux-common" },
    { "/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi", "syslinux.efi", "syslinux-efi" },
    { "/usr/lib/syslinux/modules/efi64/ldlinux.e64", "ldlinux.e64", "syslinux-common" },
};
static const char *const live[] = { "vmlinuz", "initrd.zst" };

/* The same menu for PXELINUX and SYSLINUX's EFI loader (both read pxelinux.cfg/).
 * clonebay.netboot: the live system asks DHCP for its wired interfaces;
 * clonebay.receive: its station starts on "Receive from the network". */
static const char menu[] =
    "DEFAULT clonebay\n"
    "PROMPT 0\n"
    "LABEL clonebay\n"
    "  KERNEL vmlinuz\n"
    "  APPEND initrd=initrd.zst console=ttyS0,115200 console=tty0 quiet clonebay.netboot clonebay.receive\n";

static int copy_file(const char *from, const char *to, struct cb_error *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    if (in < 0)
        return cb_error_set(err, -errno, "cannot read %s: %s", from, strerror(errno));
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0)
        rc = cb_error_set(err, -errno, "cannot create %s: %s", to, strerror(errno));
    char buf[1 << 16];
    ssize_t n;
    while (!rc && (n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0 || write(out, buf, (size_t)n) != n)
            rc = cb_error_set(err, -EIO, "cannot copy %s to %s", from, to);
    }
    close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* Where the live kernel and initramfs are: given, beside this program
 * (BUILD/netboot after `make netboot`), or installed. */
static int find_files(struct net_boot *b, const char *given, struct cb_error *err)
{
    char self[4096] = "", beside[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0)
        self[n] = '\0';
    snprintf(beside, sizeof(beside), "%s/netboot", dirname(self));
    const char *candidates[] = { given, beside, "/usr/local/share/clonebay/netboot", "/usr/share/clonebay/netboot" };
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (!candidates[i] || (given && i > 0))
            continue;
        char k[4300];
        snprintf(k, sizeof(k), "%s/%s", candidates[i], live[0]);
        if (access(k, R_OK) == 0) {
            snprintf(b->files, sizeof(b->files), "%s", candidates[i]);
            return 0;
        }
    }
    return cb_error_set(err, -ENOENT, "no live system to serve: %s/vmlinuz is missing (make netboot builds it; "
                        "--files DIR names another folder)", given ? given : beside);
}

/* Proxy-DHCP answers on the interface's own network: "10.0.0.0". */
static int interface_network(const char *ifname, char *out, size_t len, struct cb_error *err)
{
    struct ifaddrs *all, *a;
    if (getifaddrs(&all) != 0)
        return cb_error_set(err, -errno, "cannot list the network interfaces: %s", strerror(errno));
    int rc = cb_error_set(err, -ENODEV, "interface %s has no IPv4 address: proxy-DHCP answers on its network "
                          "(give it one, or --range FIRST,LAST to lease addresses)", ifname);
    for (a = all; a; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || strcmp(a->ifa_name, ifname) || !a->ifa_netmask)
            continue;
        struct in_addr ip = ((struct sockaddr_in *)a->ifa_addr)->sin_addr;
        struct in_addr mask = ((struct sockaddr_in *)a->ifa_netmask)->sin_addr;
        ip.s_addr &= mask.s_addr;
        inet_ntop(AF_INET, &ip, out, (socklen_t)len);
        cb_error_clear(err);
        rc = 0;
        break;
    }
    freeifaddrs(all);
    return rc;
}

int net_boot_prepare(struct net_boot *b, const struct net_boot_request *req, struct cb_error *err)
{
    memset(b, 0, sizeof(*b));
    b->tool.pid = -1;
    b->tool.fd = -1;
    if (!req->interface)
        return cb_error_set(err, -EINVAL, "netboot needs --interface: the network of the PCs to boot");
    if (if_nametoindex(req->interface) == 0)
        return cb_error_set(err, -ENODEV, "there is no network interface %s", req->interface);
    if (req->range && (!strchr(req->range, ',') || strchr(req->range, ' ')))
        return cb_error_set(err, -EINVAL, "--range is FIRST,LAST (two addresses), not '%s'", req->range);
    for (size_t i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++)
        if (access(loaders[i].from, R_OK) != 0)
            return cb_error_set(err, -ENOENT, "%s is missing (package %s)", loaders[i].from, loaders[i].package);
    int rc = find_files(b, req->files, err);
    if (!rc && !req->range)
        rc = interface_network(req->interface, b->proxy_net, sizeof(b->proxy_net), err);
    if (rc)
        return rc;
    snprintf(b->dir, sizeof(b->dir), "/run/clonebay-netboot.XXXXXX");
    if (!mkdtemp(b->dir)) {
        snprintf(b->dir, sizeof(b->dir), "/tmp/clonebay-netboot.XXXXXX");
        if (!mkdtemp(b->dir))
            return cb_error_set(err, -errno, "cannot make a folder for the files to serve: %s", strerror(errno));
    }
    char path[4400], from[4400];
    /* dnsmasq serves as user nobody: the folders must be open to it. */
    chmod(b->dir, 0755);
    static const char *const dirs[] = { "tftp", "tftp/pxelinux.cfg" };
    for (size_t i = 0; !rc && i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", b->dir, dirs[i]);
        if (mkdir(path, 0755) != 0)
            rc = cb_error_set(err, -errno, "cannot make %s: %s", path, strerror(errno));
    }
    for (size_t i = 0; !rc && i < sizeof(loaders) / sizeof(loaders[0]); i++) {
        snprintf(path, sizeof(path), "%s/tftp/%s", b->dir, loaders[i].as);
        rc = copy_file(loaders[i].from, path, err);
    }
    for (size_t i = 0; !rc && i < sizeof(live) / sizeof(live[0]); i++) {
        snprintf(from, sizeof(from), "%s/%s", b->files, live[i]);
        snprintf(path, sizeof(path), "%s/tftp/%s", b->dir, live[i]);
        rc = copy_file(from, path, err);
    }
    if (!rc) {
        snprintf(path, sizeof(path), "%s/tftp/pxelinux.cfg/default", b->dir);
        FILE *f = fopen(path, "we");
        if (!f || fputs(menu, f) < 0 || fclose(f) != 0)
            rc = cb_error_set(err, -EIO, "cannot write %s", path);
    }
    if (rc)
        net_boot_stop(b);
    return rc;
}

int net_boot_start(struct net_boot *b, const struct net_boot_request *req, struct cb_error *err)
{
    char iface[96], root[200], pid[200], leases[200], range[200];
    snprintf(iface, sizeof(iface), "--interface=%s", req->interface);
    snprintf(root, sizeof(root), "--tftp-root=%s/tftp", b->dir);
    snprintf(pid, sizeof(pid), "--pid-file=%s/dnsmasq.pid", b->dir);
    snprintf(leases, sizeof(leases), "--dhcp-leasefile=%s/leases", b->dir);
    if (req->range)
        snprintf(range, sizeof(range), "--dhcp-range=%s,1h", req->range);
    else
        snprintf(range, sizeof(range), "--dhcp-range=%s,proxy", b->proxy_net);
    const char *argv[32] = {
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--log-facility=-", "--port=0",
        "--bind-interfaces", iface, pid, leases, "--enable-tftp", root, range,
        /* UEFI PCs say so in DHCP option 93: 7 (EFI BC) and 9 (x86-64). */
        "--dhcp-match=set:efi64,option:client-arch,7", "--dhcp-match=set:efi64,option:client-arch,9",
    };
    int n = 14;
    if (req->range) {
        argv[n++] = "--dhcp-boot=tag:efi64,syslinux.efi";
        argv[n++] = "--dhcp-boot=tag:!efi64,pxelinux.0";
    } else {        /* beside the room's DHCP server: PXE answers only, no addresses */
        argv[n++] = "--pxe-service=x86PC,clonebay live system,pxelinux";
        argv[n++] = "--pxe-service=BC_EFI,clonebay live system,syslinux.efi";
        argv[n++] = "--pxe-service=x86-64_EFI,clonebay live system,syslinux.efi";
    }
    argv[n] = NULL;
    int rc = tool_lines_start(&b->tool, argv);
    return rc ? cb_error_set(err, rc, "cannot run dnsmasq (package dnsmasq-base): %s", strerror(-rc)) : 0;
}

int net_boot_fd(const struct net_boot *b)
{
    return b->tool.fd;
}

static void event(struct net_boot *b, const char *fmt, const char *x, const char *y)
{
    snprintf(b->events[b->nevents % NET_BOOT_EVENTS], sizeof(b->events[0]), fmt, x, y);
    b->nevents++;
}

/* dnsmasq's lines that say what a PC did ("dnsmasq-tftp[812]: sent /x/vmlinuz to 10.0.0.5"). */
static void parse_line(void *arg, const char *l)
{
    struct net_boot *b = arg;
    char ip[64], mac[64], file[4096];
    const char *p;
    if ((p = strstr(l, "DHCPACK(")) && (p = strchr(p, ')')) && sscanf(p + 1, " %63s %63s", ip, mac) == 2)
        event(b, "%s (%s) has an address", ip, mac);
    else if ((p = strstr(l, "PXE(")) && (p = strchr(p, ')')) && sscanf(p + 1, " %63s %63s", ip, mac) == 2 &&
             !strcmp(mac, "proxy"))
        event(b, "%s asked for a boot loader (%s-DHCP)", ip, mac);
    else if (!strncmp(l, "dnsmasq-tftp", 12) && (p = strstr(l, ": sent ")) && sscanf(p + 7, "%4095s to %63s", file, ip) == 2)
        event(b, "%s fetched %s", ip, strrchr(file, '/') ? strrchr(file, '/') + 1 : file);
    else if (!strncmp(l, "dnsmasq-tftp", 12) && (p = strstr(l, ": failed sending ")) &&
             sscanf(p + 17, "%4095s to %63s", file, ip) == 2)
        event(b, "%s could not fetch %s", ip, strrchr(file, '/') ? strrchr(file, '/') + 1 : file);
    if (l[0])
        snprintf(b->said, sizeof(b->said), "%s", l);
}

bool net_boot_pump(struct net_boot *b)
{
    return tool_lines_pump(&b->tool, parse_line, b);
}

const char *net_boot_event(const struct net_boot *b, unsigned i)
{
    return b->events[i % NET_BOOT_EVENTS];
}

static void remove_tree(const char *dir)
{
    char path[4400];
    for (size_t i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++) {
        snprintf(path, sizeof(path), "%s/tftp/%s", dir, loaders[i].as);
        unlink(path);
    }
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
        snprintf(path, sizeof(path), "%s/tftp/%s", dir, live[i]);
        unlink(path);
    }
    static const char *const rest[] = { "tftp/pxelinux.cfg/default", "tftp/pxelinux.cfg", "tftp", "dnsmasq.pid",
                                        "leases" };
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, rest[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(dir);
}

void net_boot_stop(struct net_boot *b)
{
    tool_lines_stop(&b->tool, parse_line, b);
    if (b->dir[0])
        remove_tree(b->dir);
    b->dir[0] = '\0';
}
