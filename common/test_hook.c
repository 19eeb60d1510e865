#include "common/test_hook.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void cb_test_pause(const char *env_name)
{
    const char *p = getenv(env_name);
    if (!p || !*p)
        return;
    char ready[PATH_MAX], go[PATH_MAX];
    snprintf(ready, sizeof(ready), "%s.ready", p);
    snprintf(go, sizeof(go), "%s.go", p);
    FILE *f = fopen(ready, "w");
    if (f)
        fclose(f);
    for (int i = 0; i < 600 && access(go, F_OK) != 0; i++)
        usleep(100 * 1000);
}
