/* monitor_events: print the drive events dev_monitor reports, for tests.
 * Usage: monitor_events SECONDS — prints "ready", then "add loop3" etc. */
#include "devices/dev_monitor.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void show(const struct dev_event *ev, void *arg)
{
    (void)arg;
    printf("%s %s\n", dev_event_type_name(ev->type), ev->name);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 10;
    struct dev_monitor *mon;
    struct cb_error err = { 0 };
    if (dev_monitor_open(&mon, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("ready %s\n", dev_monitor_source(mon));
    fflush(stdout);
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end) {
        struct pollfd p = { .fd = dev_monitor_fd(mon), .events = POLLIN };
        if (poll(&p, 1, 200) > 0)
            dev_monitor_drain(mon, show, NULL);
    }
    dev_monitor_close(mon);
    return 0;
}
