#include "devices/sysfs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sysfs_init(struct sysfs_ctx *ctx, const char *root)
{
    ctx->root[0] = '\0';
    if (root && *root && strcmp(root, "/") != 0) {
        snprintf(ctx->root, sizeof(ctx->root), "%s", root);
        size_t n = strlen(ctx->root);
        while (n > 1 && ctx->root[n - 1] == '/')
            ctx->root[--n] = '\0';
    }
}

bool sysfs_is_live(const struct sysfs_ctx *ctx)
{
    return ctx->root[0] == '\0';
}

static int vpath(const struct sysfs_ctx *ctx, char *buf, size_t len, const char *fmt, va_list ap)
{
    char rel[PATH_MAX];
    int n = vsnprintf(rel, sizeof(rel), fmt, ap);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return -ENAMETOOLONG;
    const char *sep = rel[0] == '/' ? "" : "/";
    n = snprintf(buf, len, "%s%s%s", ctx->root, sep, rel);
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    return 0;
}

int sysfs_path(const struct sysfs_ctx *ctx, char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vpath(ctx, buf, len, fmt, ap);
    va_end(ap);
    return rc;
}

char *sysfs_trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (s[i] && isspace((unsigned char)s[i]))
        i++;
    if (i)
        memmove(s, s + i, n - i + 1);
    return s;
}

static long read_file(const char *path, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, (char *)buf + got, len - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return (long)got;
}

long sysfs_read_raw(const struct sysfs_ctx *ctx, void *buf, size_t len, const char *fmt, ...)
{
    char path[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int rc = vpath(ctx, path, sizeof(path), fmt, ap);
    va_end(ap);
    if (rc)
        return rc;
    return read_file(path, buf, len);
}

static int vread_str(const struct sysfs_ctx *ctx, char *buf, size_t len, const char *fmt, va_list ap)
{
    char path[PATH_MAX];
    int rc = vpath(ctx, path, sizeof(path), fmt, ap);
    if (rc)
        return rc;
    if (len == 0)
        return -EINVAL;
    long n = read_file(path, buf, len - 1);
    if (n < 0) {
        buf[0] = '\0';
        return (int)n;
    }
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    sysfs_trim(buf);
    return 0;
}

int sysfs_read_str(const struct sysfs_ctx *ctx, char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vread_str(ctx, buf, len, fmt, ap);
    va_end(ap);
    return rc;
}

int sysfs_read_u64(const struct sysfs_ctx *ctx, uint64_t *out, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int rc = vread_str(ctx, buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (rc)
        return rc;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 0);
    if (errno || end == buf)
        return -EINVAL;
    *out = v;
    return 0;
}

bool sysfs_exists(const struct sysfs_ctx *ctx, const char *fmt, ...)
{
    char path[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int rc = vpath(ctx, path, sizeof(path), fmt, ap);
    va_end(ap);
    return rc == 0 && access(path, F_OK) == 0;
}

int sysfs_block_devpath(const struct sysfs_ctx *ctx, const char *name, char *buf, size_t len)
{
    char path[PATH_MAX], real[PATH_MAX];
    int rc = sysfs_path(ctx, path, sizeof(path), "sys/block/%s", name);
    if (rc)
        return rc;
    if (!realpath(path, real))
        return -errno;
    const char *rel = real;
    size_t rl = strlen(ctx->root);
    if (rl && strncmp(real, ctx->root, rl) == 0)
        rel = real + rl;
    /* A saved tree may itself live under a symlinked directory. */
    else if (rl) {
        char rroot[PATH_MAX];
        if (realpath(ctx->root, rroot) && strncmp(real, rroot, strlen(rroot)) == 0)
            rel = real + strlen(rroot);
    }
    if (strlen(rel) >= len)
        return -ENAMETOOLONG;
    strcpy(buf, rel);
    return 0;
}
