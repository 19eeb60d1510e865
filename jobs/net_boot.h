/* net_boot: serve the live system to a room of PCs over the network (PXE),
 * through dnsmasq: DHCP on a range of addresses, or proxy-DHCP beside the
 * room's own DHCP server, and TFTP; BIOS PCs get PXELINUX, UEFI ones
 * SYSLINUX's EFI loader, and both the kernel and initramfs the live ISO
 * carries (`make netboot` puts them in BUILD/netboot), started with
 * clonebay.netboot so the booted system brings its wired interfaces up.
 * Everything dnsmasq serves is copied into a private folder made for the
 * run, removed by net_boot_stop. The caller polls net_boot_fd() and calls
 * net_boot_pump(), which turns dnsmasq's log into events (a PC got an
 * address, fetched a file). */
#ifndef CB_NET_BOOT_H
#define CB_NET_BOOT_H

#include "common/cb_error.h"
#include "common/run_tool.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NET_BOOT_EVENTS 64

struct net_boot_request {
    const char *interface;
    const char *range;              /* "FIRST,LAST" addresses to lease; NULL: proxy-DHCP */
    const char *files;              /* folder holding vmlinuz and initrd.zst; NULL: the default */
};

struct net_boot {
    char dir[128];                  /* the run's private folder; tftp/ in it is served */
    char files[4096];               /* where the kernel and initramfs came from */
    char proxy_net[64];             /* proxy-DHCP: the interface's network ("" with a range) */
    struct tool_lines tool;         /* dnsmasq, its log */
    char events[NET_BOOT_EVENTS][192];  /* the newest, in a ring */
    unsigned nevents;               /* events so far (the ring holds the last NET_BOOT_EVENTS) */
    char said[256];                 /* dnsmasq's last line (why it stopped) */
};

/* Check the files, make the folder dnsmasq serves. 0, or a refusal naming what is missing. */
int net_boot_prepare(struct net_boot *b, const struct net_boot_request *req, struct cb_error *err);
int net_boot_start(struct net_boot *b, const struct net_boot_request *req, struct cb_error *err);
int net_boot_fd(const struct net_boot *b);
/* Read dnsmasq's log (never blocks); true once it ended. */
bool net_boot_pump(struct net_boot *b);
/* Event number i (0 .. nevents-1, the last NET_BOOT_EVENTS of them). */
const char *net_boot_event(const struct net_boot *b, unsigned i);
/* Stop dnsmasq (if it runs), reap it, remove the folder. */
void net_boot_stop(struct net_boot *b);

#endif
