/* store_mount: mount a partition as the station's store does (jobs/store.c),
 * for tests that check how it is mounted.
 *
 *   store_mount DEV FSTYPE ROOT [LABEL]
 * Prints the folder it was mounted on; exit 0, or 1 with the reason. */
#include <stdio.h>
#include <string.h>

#include "jobs/store.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: store_mount DEV FSTYPE ROOT [LABEL]\n");
        return 2;
    }
    struct store_choice c = { 0 };
    snprintf(c.dev, sizeof(c.dev), "%s", argv[1]);
    snprintf(c.fstype, sizeof(c.fstype), "%s", argv[2]);
    snprintf(c.label, sizeof(c.label), "%s", argc > 4 ? argv[4] : "");
    char dir[4096];
    struct cb_error err = { 0 };
    if (store_mount(&c, argv[3], dir, sizeof(dir), &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%s\n", dir);
    return 0;
}
