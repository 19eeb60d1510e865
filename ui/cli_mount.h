/* cli_mount: `clonebay mount` and `clonebay umount`: open an image without
 * restoring it. Exit codes as in ui/cli.h. */
#ifndef CB_UI_CLI_MOUNT_H
#define CB_UI_CLI_MOUNT_H

int cli_mount(int argc, char **argv);
int cli_umount(int argc, char **argv);
/* `clonebay diff A B`: exit 0 same, 1 different, 2 refused (as diff(1)). */
int cli_diff(int argc, char **argv);

#endif
