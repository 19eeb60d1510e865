#include "common/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *units_format_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const names[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    if (bytes < 1024) {
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    double v = (double)bytes / 1024.0;
    size_t i = 0;
    /* Round first so 1023.96 KiB becomes "1.0 MiB", not "1024.0 KiB". */
    while (i + 1 < sizeof(names) / sizeof(names[0]) && round(v * 10.0) / 10.0 >= 1024.0) {
        v /= 1024.0;
        i++;
    }
    snprintf(buf, len, "%.1f %s", v, names[i]);
    return buf;
}

int units_parse_bytes(const char *text, uint64_t *out)
{
    if (!text || !*text)
        return -EINVAL;
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0 || !isfinite(v))
        return -EINVAL;
    while (*end == ' ')
        end++;
    double mult = 1;
    if (*end) {
        static const char letters[] = "KMGTPE";
        const char *p = strchr(letters, toupper((unsigned char)*end));
        if (!p)
            return -EINVAL;
        int power = (int)(p - letters) + 1;
        const char *suffix = end + 1;
        double base = 1024;
        if (!strcasecmp(suffix, "B"))
            base = 1000;            /* GB = 10^9, as on the drive label */
        else if (*suffix && strcasecmp(suffix, "iB"))
            return -EINVAL;
        mult = pow(base, power);
    }
    double r = v * mult;
    if (r >= 18446744073709551616.0)
        return -ERANGE;
    if (mult == 1 && v != floor(v))
        return -EINVAL;             /* no fractional bytes */
    *out = (uint64_t)r;
    return 0;
}
