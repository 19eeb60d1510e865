#include "devices/dev_hidden.h"
#include "common/run_tool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int dev_hidden_parse_max(const char *out, uint64_t *visible, uint64_t *native)
{
    const char *p = strstr(out, "max sectors");
    unsigned long long v, n;
    if (!p || sscanf(p, "max sectors = %llu/%llu", &v, &n) != 2 || v == 0 || n == 0)
        return -EINVAL;
    *visible = v;
    *native = n;
    return 0;
}

int dev_hidden_parse_dco(const char *out, uint64_t *real_max)
{
    const char *p = strstr(out, "Real max sectors:");
    unsigned long long r;
    if (!p || sscanf(p, "Real max sectors: %llu", &r) != 1 || r == 0)
        return -EINVAL;
    *real_max = r;
    return 0;
}

void dev_hidden_read(const char *path, unsigned sector, int timeout_s, int64_t *hpa_bytes, int64_t *dco_bytes,
                     char *why, size_t len)
{
    char out[8192];
    uint64_t visible = 0, native = 0, real = 0;
    *hpa_bytes = *dco_bytes = -1;
    why[0] = '\0';
    const char *max_argv[] = { "hdparm", "-N", path, NULL };
    int rc = run_tool_stdout(max_argv, out, sizeof(out), timeout_s);
    if (rc < 0 || dev_hidden_parse_max(out, &visible, &native) != 0) {
        snprintf(why, len, "hidden areas not known: %s", rc == -ENOENT ? "hdparm is not installed"
                                                      : "the drive did not answer READ NATIVE MAX");
        return;
    }
    *hpa_bytes = native > visible ? (int64_t)((native - visible) * sector) : 0;
    const char *dco_argv[] = { "hdparm", "--dco-identify", path, NULL };
    rc = run_tool_stdout(dco_argv, out, sizeof(out), timeout_s);
    if (rc >= 0 && dev_hidden_parse_dco(out, &real) == 0)
        *dco_bytes = real > native ? (int64_t)((real - native) * sector) : 0;
}
