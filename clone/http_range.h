/* http_range: an image file served over HTTP, read by byte ranges.
 *
 * A station restores an image that lives on another machine of the room
 * (any web server that answers Range requests: busybox httpd, nginx, ...).
 * Each read is one GET with "Range: bytes=A-B" answered 206; the image's
 * seek table makes its frames cheap to reach, so only what a restore
 * needs crosses the network. Plain http only: the bench's network is the
 * room's own, and the image carries its own checksums and sha256. */
#ifndef CB_HTTP_RANGE_H
#define CB_HTTP_RANGE_H

#include "common/cb_error.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct addrinfo;

struct http_range {
    char host[256];
    char hostport[300];             /* as the URL gives it: the Host header */
    char port[8];
    char path[2048];                /* as sent: from the first '/' of the URL */
    char url[2400];
    uint64_t size;                  /* the file's, from the first answer's Content-Range */
    int timeout_s;                  /* per connect, send and receive (default 30) */
    struct addrinfo *addrs;         /* resolved once, at open */
    char last_error[512];           /* why the last read failed, for messages */
};

/* Whether path names an HTTP URL (http://...). */
bool http_range_is_url(const char *path);
/* Parse url, ask for its first byte, learn its size. 0, or -errno with err
 * naming the URL and the reason (no such file, no answer, a server that does
 * not answer ranges, https). */
int http_range_open(struct http_range *h, const char *url, struct cb_error *err);
/* Read [off, off+len): bytes read (len, or fewer at the end of the file) or
 * -errno (the server stopped answering, or answered something else, after
 * three tries). */
ssize_t http_range_read(struct http_range *h, void *buf, size_t len, uint64_t off, struct cb_error *err);
void http_range_close(struct http_range *h);

#endif
