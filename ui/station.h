/* station: the ncurses front end a technician watches all day.
 *
 * One loop poll()s the keyboard, the drive monitor and the jobs' shared
 * eventfd, redraws at most ten times a second and never waits for a job.
 * station.c owns the loop; each screen is a struct screen (ui/screen.h) with
 * its draw function and its key table, in the file that owns that screen;
 * station_draw.c paints the frame and what several screens share. */
#ifndef CB_UI_STATION_H
#define CB_UI_STATION_H

#include "devices/dev_health_cache.h"
#include "devices/dev_ident.h"
#include "devices/dev_monitor.h"
#include "devices/dev_scan.h"
#include "jobs/disc_archive.h"
#include "jobs/job_preview.h"
#include "jobs/job_queue.h"
#include "jobs/session.h"
#include "jobs/store.h"

#include <stdbool.h>

struct browse_view;
struct station_net;
struct screen;

struct station_opts {
    const char *bench_dir;          /* practice bench: only loops over files in here */
    const char *reports_dir;
    int max_parallel;
    int stall_seconds;              /* no answer this long: "not answering" (0: 30 s) */
    bool no_bell;                   /* start with the bell off */
};

enum st_mode { MODE_MAIN, MODE_HELP, MODE_DETAIL, MODE_WIZARD, MODE_QUIT, MODE_STORE, MODE_BENCH, MODE_BROWSE,
               MODE_DRIVE, MODE_NET_RECEIVE, MODE_NET_SEND };
/* WIZ_STARTING: Y was pressed; the job prepares in its own thread and the
 * wizard shows its refusal, if any, on the confirmation screen. */
enum wiz_step { WIZ_SOURCE, WIZ_TARGETS, WIZ_PATH, WIZ_OPTIONS, WIZ_CONFIRM, WIZ_STARTING };

struct wizard {
    enum wiz_step step;
    enum job_kind kind;
    int cursor;
    char source[256];
    struct dev_ident source_id;     /* the source drive, when it is one (source_is_drive) */
    bool source_is_drive;
    uint64_t source_size;           /* bytes the targets must hold... */
    bool source_table;              /* ...unless its partition table can be fitted */
    /* Marked targets by identity, never by place in the list: the list is
     * re-sorted on every hot-plug, and a mark must stay on its drive. */
    struct dev_ident picked[JOB_MAX_TARGETS];
    size_t npicked;
    int starting_id;                /* WIZ_STARTING: the job being prepared */
    struct job_preview *preview;    /* WIZ_CONFIRM: each target's plan, worked out in its own thread */
    bool start_when_planned;        /* Y came before the plans: start once they are (unless refused) */
    bool risky_confirmed;           /* a target with bad sectors (its SMART): Y was pressed once */
    bool preview_shown;             /* its result has been drawn */
    char path[256];                 /* image to write, or image to restore */
    bool path_for_restore;          /* WIZ_PATH asks for an image to restore */
    unsigned hash_mask;
    bool verify;
    enum copy_mode mode;            /* what the command line's --mode, --resize, --retries and --map say */
    enum layout_resize resize;
    int retries;
    bool keep_map;                  /* a ddrescue map beside the reports: a crash or a pulled cable resumes */
    char map_path[4096];
    int level;
    uint64_t split;
    char error[512];
};

struct station {
    struct station_opts opts;
    struct dev_list devs;
    struct dev_monitor *mon;
    struct dev_health_cache *health;    /* SMART read in the background; NULL: not shown */
    unsigned health_seen;               /* its generation when last drawn */
    struct job_queue q;
    enum st_mode mode;
    const struct screen *help_for;  /* MODE_HELP: the screen whose keys it lists... */
    enum st_mode help_return;       /* ...and the mode any key returns to */
    bool focus_jobs;
    int sel_drive, sel_job;         /* indexes into devs / q.jobs */
    int detail_id;                  /* job shown in MODE_DETAIL */
    struct dev_ident drive_shown;   /* MODE_DRIVE: the drive in full, by identity (the list may re-sort) */
    struct wizard wiz;
    /* Previews the wizard left before they finished: joined once done (or at exit). */
    struct job_preview *stale_previews[8];
    int nstale;
    struct store_choice stores[32]; /* MODE_STORE: the filesystems offered */
    size_t nstores;
    int store_cursor;
    char store_dir[256];            /* where images go by default, "" until chosen */
    bool reports_volatile;          /* reports_dir is in RAM (the live ISO's /) */
    struct disc_archive archive;    /* optical drives archiving every disc put in ("a") */
    char message[1024];             /* shown whole above the key bar until a key is pressed */
    bool message_error;             /* a refusal or error: an info message does not replace it */
    bool bell;                      /* BEL when a job ends: once verified, three times failed */
    int beeps_pending;
    double next_beep;
    struct session session;
    struct station_net *net;        /* receive and send over the network (station_net.h), NULL until used */
    struct browse_view *browse;     /* MODE_BROWSE: an image opened read-only (station_browse.c) */
    short drive_row[256], job_row[JQ_MAX_JOBS];   /* screen rows drawn, for mouse clicks; -1 hidden */
    int drive_events;               /* hot-plug events that concern this station, this turn */
    bool color;
    bool dirty;
    bool quit;
};

int station_run(const struct station_opts *opts);

/* Colours named by meaning; without colours each has its own attribute, and
 * every state is also a word on the screen. */
enum ui_color { UI_COLOR_IDLE, UI_COLOR_BUSY, UI_COLOR_VERIFIED, UI_COLOR_FAILED, UI_COLOR_WARNING, UI_COLOR_COUNT };
void ui_colors_init(struct station *st);
void ui_color_on(const struct station *st, enum ui_color c);
void ui_color_off(const struct station *st, enum ui_color c);

/* What a drive is doing, by the jobs that touch it (the newest decides). */
struct drive_status {
    enum ui_color color;
    const char *word;               /* idle, busy, VERIFIED, FAILED, warning */
    char detail[160];               /* "job #2: writing 45%", "not answering since 10:02:11" */
    time_t stalled_since;           /* 0: answering */
};
void station_drive_status(const struct station *st, const struct dev_drive *d, struct drive_status *out);

/* Say something on the status line of whatever screen is up, wrapped and
 * whole until a key is pressed; error: a refusal or failure, which an info
 * message does not replace. With a job, the same text goes to its log. */
void station_say(struct station *st, bool error, struct qjob *job, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A key that does nothing on this screen: say so, and what does. */
void station_key_unused(struct station *st, int key, const char *what_works);

/* station.c */
void station_rescan(struct station *st);
/* One key, to whatever screen is showing. */
void station_key(struct station *st, int key);
/* The screen showing now (ui/screen.h): its keys, its key bar, its drawing. */
const struct screen *station_screen(const struct station *st);
/* Quit at once when no job is active, else ask. */
void station_ask_quit(struct station *st);
/* The screens, each defined in the file that owns it. */
extern const struct screen main_screen, quit_screen;   /* station_main.c */
extern const struct screen help_screen;                 /* station_help.c */
/* F1: the help of the screen showing, made from its key table. */
void station_help(struct station *st);
extern const struct screen detail_screen;               /* station_detail.c */
/* The chosen drive in full: identity, sector sizes, SMART health with every
 * figure read, hidden areas, contents. */
extern const struct screen drive_screen;                /* station_drive.c */
/* station_store.c: choosing the drive that keeps images and reports */
void store_start(struct station *st);
extern const struct screen store_screen;
/* Where images go: the chosen store, else beside the reports. */
const char *station_image_folder(const struct station *st);
/* station_draw.c */
void station_draw(struct station *st);
/* The main screen: drives above, jobs below (its key bar is drawn from its table). */
void station_main_draw(struct station *st);
/* A running job's second line (bar, rate, ETA, bad sectors), or its verdict, at row y. */
void draw_job_progress(const struct station *st, const struct qjob *j, int y);
/* Break text at spaces into rows of at most cols (a word longer than a row is
 * cut across rows): the rows, at most max. */
int text_wrap(const char *text, int cols, const char **starts, int *lens, int max);
/* station_draw.c's colour pairs (the bench's follow them): on, or an attribute without colours. */
enum { C_GOOD = 1, C_BAD, C_WARN, C_INFO, C_BAR };
void draw_color_on(const struct station *st, int pair);
void draw_color_off(const struct station *st, int pair);
/* A drive's model, or for a loop device the name of its file. */
const char *drive_model_of(const struct dev_drive *d);
/* One line in the warning colour at row y. */
void draw_warning_line(const struct station *st, int y, const char *text);
/* Draw text word-wrapped, whole, in the rows just above the key bar; the rows it took. */
int draw_wrapped(const struct station *st, const char *text, bool error);
/* Draw text word-wrapped from row y (rows after the first indented by 2 more),
 * whole in rows y..end-1 or not at all: the rows it took, or -1. */
int draw_text_block(const struct station *st, const char *text, int y, int end, int indent, bool error);
/* The key bar on the last row: key, label, key, label, ..., NULL (screen_key_bar
 * makes them from a screen's key table). */
void station_key_bar(const struct station *st, const char *const *items);
/* station_bench.c: one tile per drive, readable from across the room */
extern const struct screen bench_screen;
/* station_browse.c: "Browse image": an image in the store opened read-only
 * (jobs/image_mount), its partitions and files, files copied out to the store */
void browse_start(struct station *st);
extern const struct screen browse_screen;
void draw_browse(struct station *st);
/* Each loop turn: a copy that ended is reported. */
void browse_tick(struct station *st);
/* At exit: a running copy stopped, every image the station mounted unmounted
 * (and nothing else). 0, or -EBUSY with what is still mounted said in msg. */
int browse_end(struct station *st, char *msg, size_t len);
/* station_net.c, station_net_send.c: receive from and send to the network */
extern const struct screen net_receive_screen, net_send_screen;

/* R on the main screen, and a netbooted station (clonebay.receive on the
 * kernel command line) at its start: the receive screen. */
void station_net_receive_start(struct station *st);
/* Booted by clonebay netboot: its menu puts clonebay.receive on the kernel
 * command line, and the station then starts on the receive screen. */
bool station_netbooted(void);
/* S on the main screen: the send screen (a session that runs is shown). */
void station_net_send_start(struct station *st);
/* Each loop turn: a send session's news read, its end reported. */
void station_net_tick(struct station *st);
/* At exit: a session still sending is stopped, its report written. */
void station_net_end(struct station *st);
/* station_wizard.c */
void wizard_start(struct station *st);
/* Its steps as screens (station_wizard_keys.c), drawn by wizard_draw (station_wizard_draw.c). */
extern const struct screen wizard_screen;
void wizard_draw(struct station *st);
/* Why no job may write d at all (the running system, mounted, read-only,
 * busy, no medium), or NULL: the wizard's targets and a receive's (station_drive.c). */
const char *station_drive_unwritable(const struct dev_drive *d);
/* Why a drive cannot be a target of this wizard's job, or NULL. */
const char *wizard_unpickable(const struct station *st, const struct dev_drive *d);
/* Whether d is marked as a target. */
bool wizard_picked(const struct wizard *w, const struct dev_drive *d);
/* After the drive list changed: marks (and the source) stay on their drives;
 * one that was pulled or replaced loses its mark, and the screen says so. */
void wizard_follow_drives(struct station *st);
/* Each loop turn: a job started from the wizard is watched until it runs or
 * is refused; previews that finished are joined. */
void wizard_tick(struct station *st);
/* At exit: every preview joined. */
void wizard_end(struct station *st);

#endif
