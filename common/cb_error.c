#include "common/cb_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cb_error_set(struct cb_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

void cb_error_clear(struct cb_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}
