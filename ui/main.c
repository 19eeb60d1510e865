/* main: clonebay's entry point; dispatches to the subcommands. */
#include "ui/cli.h"
#include "ui/cli_mount.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef CLONEBAY_VERSION
#define CLONEBAY_VERSION "0.0.0-dev"
#endif

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("clonebay: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

void cli_usage(void)
{
    fputs("Usage: clonebay COMMAND [OPTIONS]\n"
          "\n"
          "A disk cloning and imaging station. Commands:\n"
          "  (no command), station [OPTIONS]    the ncurses station: drives, jobs, live progress\n"
          "  list [--json]                      show every drive, its partitions and safety flags\n"
          "  clone SRC DST [DST...] [OPTIONS]   copy a drive to one or more drives, hash and verify\n"
          "  image SRC FILE [OPTIONS]           save a drive as a compressed, seekable image (FILE.zst)\n"
          "  restore FILE DST [DST...]          write an image to one or more drives, and verify\n"
          "  verify FILE                        check every frame and the stored hashes of an image\n"
          "  info FILE [--json]                 what an image holds\n"
          "  mount IMAGE DIR, umount DIR        open an image read-only: its partitions under DIR/p1...\n"
          "  diff IMAGE DRIVE|IMAGE             which byte ranges differ (exit 0 same, 1 differ)\n"
          "  send IMAGE [OPTIONS]               send an image to PCs running 'receive' (udpcast)\n"
          "  receive DST [DST...] [OPTIONS]     restore an image sent over the network, and verify\n"
          "  netboot --interface IF [OPTIONS]   boot PCs from the network into the live system (PXE)\n"
          "\n"
          "Options for every command:\n"
          "  -h, --help       this help (or `clonebay COMMAND --help`)\n"
          "  -V, --version    the version\n"
          "\n"
          "Exit codes: 0 done, 1 failed while running, 2 refused before writing,\n"
          "3 finished with unreadable sectors. See clonebay(1).\n",
          stdout);
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    { "list", cli_list },
    { "clone", cli_clone },
    { "image", cli_image },
    { "restore", cli_restore },
    { "verify", cli_verify },
    { "info", cli_info },
    { "mount", cli_mount },
    { "umount", cli_umount },
    { "diff", cli_diff },
    { "station", cli_station },
    { "send", cli_send },
    { "receive", cli_receive },
    { "netboot", cli_netboot },
};

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_station(argc, argv);     /* no arguments: the station */
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        cli_usage();
        return CLI_OK;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("clonebay %s\n", CLONEBAY_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    if (cmd[0] == '-')      /* the station's options need not say "station" */
        return cli_station(argc, argv);
    if (cmd[0] == '-')
        return cli_fail(CLI_REFUSED, "unknown option '%s' (try 'clonebay --help')", cmd);
    return cli_fail(CLI_REFUSED, "unknown command '%s' (try 'clonebay --help')", cmd);
}
