#include "clone/http_range.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define TRIES 3

bool http_range_is_url(const char *path)
{
    return !strncasecmp(path, "http://", 7) || !strncasecmp(path, "https://", 8);
}

static int parse_url(struct http_range *h, const char *url, struct cb_error *err)
{
    if (!strncasecmp(url, "https://", 8))
        return cb_error_set(err, -EPROTONOSUPPORT, "%s: https is not supported; serve the image over plain http "
                            "on the bench's network (the image's own checksums and sha256 vouch for what arrives)",
                            url);
    const char *p = url + 7, *slash = strchr(p, '/');
    size_t hostlen = slash ? (size_t)(slash - p) : strlen(p);
    char hostport[300];
    if (!hostlen || hostlen >= sizeof(hostport) || !slash || !slash[1])
        return cb_error_set(err, -EINVAL, "%s: not a URL of an image file (http://HOST[:PORT]/PATH)", url);
    memcpy(hostport, p, hostlen);
    hostport[hostlen] = '\0';
    if (strpbrk(hostport, " \r\n@"))
        return cb_error_set(err, -EINVAL, "%s: not a URL of an image file (http://HOST[:PORT]/PATH)", url);
    snprintf(h->hostport, sizeof(h->hostport), "%s", hostport);
    char *colon = hostport[0] == '[' ? strstr(hostport, "]:") : strrchr(hostport, ':');
    snprintf(h->port, sizeof(h->port), "80");
    if (colon) {
        *colon = '\0';
        snprintf(h->port, sizeof(h->port), "%s", colon + (hostport[0] == '[' ? 2 : 1));
        if (!h->port[0] || strspn(h->port, "0123456789") != strlen(h->port))
            return cb_error_set(err, -EINVAL, "%s: not a port number", url);
    }
    const char *host = hostport;
    if (host[0] == '[') {                   /* [v6 address] */
        host++;
        char *close = strchr(hostport, ']');
        if (close)
            *close = '\0';
    }
    snprintf(h->host, sizeof(h->host), "%s", host);
    if (strlen(slash) >= sizeof(h->path) || strpbrk(slash, " \r\n"))
        return cb_error_set(err, -EINVAL, "%s: the path must be URL-encoded (no spaces or line breaks)", url);
    snprintf(h->path, sizeof(h->path), "%s", slash);
    return 0;
}

static int resolve(struct http_range *h, struct cb_error *err)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    int g = getaddrinfo(h->host, h->port, &hints, &h->addrs);
    if (g) {
        h->addrs = NULL;
        return cb_error_set(err, -EHOSTUNREACH, "%s: cannot find %s: %s", h->url, h->host, gai_strerror(g));
    }
    return 0;
}

static int connect_to(const struct http_range *h, struct cb_error *err)
{
    int rc = -ECONNREFUSED;
    for (struct addrinfo *a = h->addrs; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = { .tv_sec = h->timeout_s };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            return fd;
        /* A blocking connect cut by SO_SNDTIMEO says EINPROGRESS: it timed out. */
        rc = errno == EINPROGRESS || errno == EAGAIN ? -ETIMEDOUT : -errno;
        close(fd);
    }
    return cb_error_set(err, rc, "%s: cannot connect to %s port %s: %s", h->url, h->host, h->port, strerror(-rc));
}

static int send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EPIPE;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The answer's head (up to the blank line) into head; what came after it
 * (the body's first bytes) stays at head + *head_len, *extra of them. */
static int read_head(int fd, char *head, size_t *head_len, size_t *extra)
{
    size_t got = 0;
    for (;;) {
        if (got >= HEAD_MAX - 1)
            return -EPROTO;
        ssize_t r = recv(fd, head + got, HEAD_MAX - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        if (r == 0)
            return -ECONNRESET;
        got += (size_t)r;
        head[got] = '\0';
        char *end = strstr(head, "\r\n\r\n");
        if (end) {
            *head_len = (size_t)(end - head) + 4;
            *extra = got - *head_len;
            return 0;
        }
    }
}

/* A header's value (case-insensitive name), or NULL: head is the answer's
 * head only, cut after its blank line (the body is never searched). */
static const char *header(const char *head, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n"))
        if (!strncasecmp(l + 2, name, n) && l[2 + n] == ':')
            return l + 3 + n + strspn(l + 3 + n, " \t");
    return NULL;
}

/* One GET of [off, off+len). Returns bytes (the answer's), -errno with err. */
static ssize_t get_range(struct http_range *h, void *buf, size_t len, uint64_t off, uint64_t *total,
                         struct cb_error *err)
{
    int fd = connect_to(h, err);
    if (fd < 0)
        return fd;
    char req[3000];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nRange: bytes=%llu-%llu\r\n"
                     "User-Agent: clonebay\r\nConnection: close\r\n\r\n", h->path, h->hostport,
                     (unsigned long long)off, (unsigned long long)(off + len - 1));
    char *head = malloc(HEAD_MAX);
    size_t head_len = 0, extra = 0;
    int rc = !head ? -ENOMEM : send_all(fd, req, (size_t)n);
    if (!rc)
        rc = read_head(fd, head, &head_len, &extra);
    if (rc) {
        close(fd);
        free(head);
        return cb_error_set(err, rc, "%s: no answer for bytes %llu-%llu: %s", h->url, (unsigned long long)off,
                            (unsigned long long)(off + len - 1), strerror(-rc));
    }
    char body0 = head[head_len];        /* the head alone, as a string, while it is parsed */
    head[head_len] = '\0';
    int status = 0;
    sscanf(head, "HTTP/%*d.%*d %d", &status);
    const char *cr = header(head, "Content-Range"), *cl = header(head, "Content-Length");
    const char *te = header(head, "Transfer-Encoding");
    unsigned long long a = 0, b = 0, all = 0, clen = 0;
    if (status == 206 && (!cr || sscanf(cr, "bytes %llu-%llu/%llu", &a, &b, &all) != 3 || a != off || b < a ||
                          b >= all || (te && strncasecmp(te, "identity", 8) != 0) ||
                          (cl && (sscanf(cl, "%llu", &clen) != 1 || clen != b - a + 1))))
        status = -1;
    head[head_len] = body0;
    if (status != 206) {
        close(fd);
        char line[120];
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(head, "\r\n"), head);
        free(head);
        if (status == 200)
            return cb_error_set(err, -EOPNOTSUPP, "%s: the server does not answer byte ranges (it sent the whole "
                                "file): serve the image with one that does (busybox httpd, nginx, lighttpd)", h->url);
        if (status == 404)
            return cb_error_set(err, -ENOENT, "%s: no such file on the server (404)", h->url);
        if (status == 416)
            return cb_error_set(err, -ENXIO, "%s: the server says bytes %llu-%llu are past its end", h->url,
                                (unsigned long long)off, (unsigned long long)(off + len - 1));
        return cb_error_set(err, -EPROTO, "%s: the server answered \"%s\" to a range request", h->url, line);
    }
    size_t want = (size_t)(b - a + 1) < len ? (size_t)(b - a + 1) : len;
    size_t got = extra < want ? extra : want;
    memcpy(buf, head + head_len, got);
    free(head);
    while (got < want) {
        ssize_t r = recv(fd, (char *)buf + got, want - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r == 0 ? -ECONNRESET : errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
            close(fd);
            return cb_error_set(err, e, "%s: the answer for bytes %llu-%llu stopped after %zu bytes: %s", h->url,
                                (unsigned long long)off, (unsigned long long)(off + len - 1), got, strerror(-e));
        }
        got += (size_t)r;
    }
    close(fd);
    *total = all;
    return (ssize_t)got;
}

/* A failure worth another try: the connection dropped or timed out, the
 * network blinked. An answer that says no is not tried again. */
static bool transient(ssize_t r)
{
    return r == -ECONNRESET || r == -ETIMEDOUT || r == -ECONNREFUSED || r == -EPIPE || r == -EHOSTUNREACH ||
           r == -ENETUNREACH;
}

/* One range, tried again when the connection dropped; *total: the file's
 * size as the answer gave it. */
static ssize_t read_some(struct http_range *h, void *buf, size_t len, uint64_t off, uint64_t *total,
                         struct cb_error *err)
{
    ssize_t r = -EIO;
    for (int t = 0; t < TRIES; t++) {
        err->msg[0] = '\0';
        r = get_range(h, buf, len, off, total, err);
        if (r >= 0 || !transient(r))
            break;
        if (t + 1 < TRIES)
            poll(NULL, 0, 500 * (t + 1));
    }
    return r;
}

int http_range_open(struct http_range *h, const char *url, struct cb_error *err)
{
    memset(h, 0, sizeof(*h));
    h->timeout_s = 30;
    snprintf(h->url, sizeof(h->url), "%s", url);
    int rc = parse_url(h, url, err);
    if (!rc)
        rc = resolve(h, err);
    if (rc)
        return rc;
    char first;
    uint64_t total = 0;
    ssize_t r = read_some(h, &first, 1, 0, &total, err);
    if (r < 0) {
        http_range_close(h);
        return (int)r;
    }
    h->size = total;
    return 0;
}

void http_range_close(struct http_range *h)
{
    if (h->addrs)
        freeaddrinfo(h->addrs);
    h->addrs = NULL;
}

ssize_t http_range_read(struct http_range *h, void *buf, size_t len, uint64_t off, struct cb_error *err)
{
    if (off >= h->size || !len)
        return 0;
    if (len > h->size - off)
        len = (size_t)(h->size - off);
    size_t got = 0;
    h->last_error[0] = '\0';
    while (got < len) {             /* a server may answer a shorter range than asked */
        uint64_t total = 0;
        ssize_t r = read_some(h, (char *)buf + got, len - got, off + got, &total, err);
        if (r >= 0 && total != h->size)
            r = cb_error_set(err, -ESTALE, "%s changed on the server while it was read (%llu bytes, then %llu)",
                             h->url, (unsigned long long)h->size, (unsigned long long)total);
        else if (r == 0)
            r = cb_error_set(err, -EPROTO, "%s: an empty answer for byte %llu", h->url,
                             (unsigned long long)(off + got));
        if (r < 0) {
            snprintf(h->last_error, sizeof(h->last_error), "%s", err->msg);
            return r;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}
