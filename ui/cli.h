/* cli: the command-line front end's subcommands and shared conventions.
 *
 * Exit codes are part of the interface (scripts at the bench rely on them):
 * 0 success, 1 failed while running, 2 refused before anything was written
 * (usage or safety), 3 finished but some sectors could not be read. */
#ifndef CB_UI_CLI_H
#define CB_UI_CLI_H

enum cli_exit {
    CLI_OK = 0,
    CLI_FAILED = 1,
    CLI_REFUSED = 2,
    CLI_BAD_SECTORS = 3,
};

int cli_list(int argc, char **argv);
int cli_clone(int argc, char **argv);
int cli_image(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_station(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_receive(int argc, char **argv);
int cli_netboot(int argc, char **argv);

/* Run a prepared (and confirmed) copy job with a progress line, print its
 * report (and save the JSON one to report_path), say a failure; the exit
 * code. The caller frees the job. */
struct job;
int cli_run_job(struct job *job, const char *report_path);

/* "clonebay: <message>" on stderr; returns code for `return cli_fail(...)`. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_usage(void);

#endif
