/* sh: run a shell command made with printf's format (mkfs, sgdisk, cmp ...
 * make and judge the fixtures of a unit test); its system() status. */
#ifndef CB_TESTS_UNIT_SH_H
#define CB_TESTS_UNIT_SH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static inline int __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

#endif
