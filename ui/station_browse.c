/* station_browse: "Browse image" (o). The images in the store; one opened
 * read-only through jobs/image_mount, its partitions with label, filesystem
 * and size; a file list per partition; marked files and folders copied to
 * STORE/NAME-files by jobs/image_browse in its own thread, the sizes checked
 * and every file that failed named. Leaving the image unmounts it; the
 * station's quit unmounts every image it mounted, and only those. */
#include "common/units.h"
#include "jobs/job_log.h"
#include "ui/screen.h"
#include "ui/station_browse.h"

#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY_ESC 27

static struct browse_view *view(struct station *st)
{
    if (!st->browse)
        st->browse = calloc(1, sizeof(*st->browse));
    return st->browse;
}

static void clear_report(struct browse_view *b)
{
    for (size_t i = 0; i < b->nreport; i++)
        free(b->report[i]);
    free(b->report);
    b->report = NULL;
    b->nreport = 0;
    b->report_bad = false;
}

static void add_report(struct browse_view *b, const char *line)
{
    char **v = realloc(b->report, (b->nreport + 1) * sizeof(*v));
    if (!v)
        return;
    b->report = v;
    if ((b->report[b->nreport] = strdup(line)))
        b->nreport++;
}

static void list_images(struct station *st)
{
    struct browse_view *b = st->browse;
    struct cb_error err = { 0 };
    free(b->images);
    b->images = NULL;
    b->nimages = 0;
    snprintf(b->folder, sizeof(b->folder), "%s", station_image_folder(st));
    b->folder_volatile = store_is_volatile(b->folder);
    if (browse_find_images(b->folder, &b->images, &b->nimages, &err))
        station_say(st, true, NULL, "%s", err.msg);
    if (b->cursor >= (int)b->nimages)
        b->cursor = b->nimages ? (int)b->nimages - 1 : 0;
}

void browse_start(struct station *st)
{
    struct browse_view *b = view(st);
    if (!b) {
        station_say(st, true, NULL, "out of memory: the image browser cannot open");
        return;
    }
    st->mode = MODE_BROWSE;
    if (b->dir[0])
        return;         /* an image is open (a copy may be running): back to it */
    b->step = BV_IMAGES;
    b->cursor = b->top = 0;
    list_images(st);
}

const char *bv_part_words(const struct mounted_part *p, char *buf, size_t len)
{
    char sz[32];
    units_format_bytes(p->size, sz, sizeof(sz));
    snprintf(buf, len, "#%-2d %10s  %-6s %-16s", p->number, sz, p->fstype[0] ? p->fstype : "-",
             p->label[0] ? p->label : "-");
    return buf;
}

/* The files of the partition folder b->rel; false (said) when it cannot be read. */
static bool list_files(struct station *st)
{
    struct browse_view *b = st->browse;
    char path[8400];
    snprintf(path, sizeof(path), "%s%s%s", b->m.parts[b->part].dir, b->rel[0] ? "/" : "", b->rel);
    struct browse_entry *v;
    size_t n;
    struct cb_error err = { 0 };
    if (browse_list(path, &v, &n, &err)) {
        station_say(st, true, NULL, "%s", err.msg);
        return false;
    }
    free(b->entries);
    b->entries = v;
    b->nentries = n;
    b->cursor = b->top = 0;
    return true;
}

static void open_image(struct station *st, const char *name)
{
    struct browse_view *b = st->browse;
    snprintf(b->image, sizeof(b->image), "%s/%s", b->folder, name);
    snprintf(b->dir, sizeof(b->dir), "/tmp/clonebay-browse-XXXXXX");
    if (!mkdtemp(b->dir)) {
        station_say(st, true, NULL, "cannot make a folder to open %s in (/tmp): %s", b->image, strerror(errno));
        b->dir[0] = '\0';
        return;
    }
    struct cb_error err = { 0 };
    if (browse_open_start(b->image, b->dir, &b->opening, &err)) {
        rmdir(b->dir);
        b->dir[0] = '\0';
        station_say(st, true, NULL, "%s", err.msg);
    }
}

/* The image opened (or refused): its partitions, or the reason whole. */
static void opened(struct station *st)
{
    struct browse_view *b = st->browse;
    struct cb_error err = { 0 };
    int rc = browse_open_finish(b->opening, &b->m, &err);
    b->opening = NULL;
    st->dirty = true;
    if (rc) {
        rmdir(b->dir);      /* a refusal leaves nothing mounted */
        b->dir[0] = '\0';
        station_say(st, true, NULL, "cannot open %s: %s", b->image, err.msg);
        job_log_append(st->q.reports_dir, "browse %s: refused: %s", b->image, err.msg);
        return;
    }
    job_log_append(st->q.reports_dir, "browse %s: opened read-only on %s (%s)", b->image, b->m.loop, b->dir);
    if (b->m.warning[0])
        station_say(st, false, NULL, "%s", b->m.warning);
    else if (b->m.nparts == 0)
        station_say(st, true, NULL, "%s holds no partition table and no filesystem clonebay can read", b->image);
    b->step = BV_PARTS;
    b->cursor = b->top = 0;
    b->npicks = 0;
    clear_report(b);
}

/* Unmount what b holds; false (said) when it would not go, and then it is
 * kept to be tried again at quit. */
static bool close_image(struct station *st)
{
    struct browse_view *b = st->browse;
    if (!b->dir[0])
        return true;
    struct cb_error err = { 0 };
    bool ok = image_umount(b->dir, NULL, &err) == 0;
    if (ok) {
        rmdir(b->dir);
        job_log_append(st->q.reports_dir, "browse %s: closed (unmounted)", b->image);
    } else {
        station_say(st, true, NULL, "%s could not be unmounted: %s. The station tries again when it quits.",
                    b->image, err.msg);
        job_log_append(st->q.reports_dir, "browse %s: could not be unmounted: %s", b->image, err.msg);
        if (b->nstuck < MAX_STUCK)
            snprintf(b->stuck[b->nstuck++], sizeof(b->stuck[0]), "%s", b->dir);
    }
    b->dir[0] = '\0';
    if (b->m.helper > 0 && b->nreap < MAX_STUCK)
        b->reap[b->nreap++] = b->m.helper;
    b->m.helper = 0;
    free(b->entries);
    b->entries = NULL;
    b->nentries = 0;
    b->npicks = 0;
    return ok;
}

/* The helpers that ended are waited for (by pid: a job's tools are its own),
 * so none stays a zombie; wait: up to a few seconds each, at quit. */
static void reap_helpers(struct browse_view *b, bool wait)
{
    for (int i = 0; i < b->nreap; i++) {
        pid_t r = waitpid(b->reap[i], NULL, WNOHANG);
        for (int t = 0; wait && r == 0 && t < 100; t++) {
            nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
            r = waitpid(b->reap[i], NULL, WNOHANG);
        }
        if (r != 0)     /* reaped, or not ours to wait for */
            b->reap[i--] = b->reap[--b->nreap];
    }
}

static int find_pick(const struct browse_view *b, const char *rel)
{
    const char *into = strrchr(b->m.parts[b->part].dir, '/') + 1;
    for (size_t i = 0; i < b->npicks; i++)
        if (!strcmp(b->picks[i].into, into) && !strcmp(b->picks[i].rel, rel))
            return (int)i;
    return -1;
}

void bv_entry_rel(const struct browse_view *b, const struct browse_entry *e, char *out, size_t len)
{
    snprintf(out, len, "%s%s%s", b->rel, b->rel[0] ? "/" : "", e->name);
}

bool bv_marked(const struct browse_view *b, const char *rel)
{
    return find_pick(b, rel) >= 0;
}

static void toggle_mark(struct station *st)
{
    struct browse_view *b = st->browse;
    if (b->cursor >= (int)b->nentries)
        return;
    char rel[4096];
    bv_entry_rel(b, &b->entries[b->cursor], rel, sizeof(rel));
    int at = find_pick(b, rel);
    if (at >= 0) {
        b->picks[at] = b->picks[--b->npicks];
    } else {
        struct browse_pick *v = realloc(b->picks, (b->npicks + 1) * sizeof(*v));
        if (!v) {
            station_say(st, true, NULL, "out of memory: %s not marked", rel);
            return;
        }
        b->picks = v;
        struct browse_pick *p = &b->picks[b->npicks++];
        const struct mounted_part *mp = &b->m.parts[b->part];
        snprintf(p->root, sizeof(p->root), "%s", mp->dir);
        snprintf(p->rel, sizeof(p->rel), "%s", rel);
        snprintf(p->into, sizeof(p->into), "%s", strrchr(mp->dir, '/') + 1);
    }
    if (b->cursor + 1 < (int)b->nentries)
        b->cursor++;
}

static void start_copy(struct station *st)
{
    struct browse_view *b = st->browse;
    if (b->copy) {
        station_say(st, false, NULL, "a copy is running: wait for it, or x stops it");
        return;
    }
    if (b->npicks == 0 && b->cursor < (int)b->nentries)
        toggle_mark(st);        /* nothing marked: the file under the cursor */
    if (b->npicks == 0) {
        station_say(st, false, NULL, "mark files or folders with Space first, then c copies them");
        return;
    }
    browse_dest_folder(b->folder, b->image, b->dest, sizeof(b->dest));
    struct cb_error err = { 0 };
    if (browse_copy_start(b->picks, b->npicks, b->dest, &b->copy, &err)) {
        station_say(st, true, NULL, "the copy cannot start: %s", err.msg);
        return;
    }
    clear_report(b);
    station_say(st, false, NULL, "copying %zu marked item%s to %s", b->npicks, b->npicks == 1 ? "" : "s", b->dest);
    b->npicks = 0;
}

/* The copy's end, on the screen and in jobs.log: what was copied, whether the
 * sizes agree, and each file that failed by name. */
void browse_tick(struct station *st)
{
    struct browse_view *b = st->browse;
    if (b && b->opening && browse_open_done(b->opening))
        opened(st);
    if (b && b->nreap)
        reap_helpers(b, false);
    if (!b || !b->copy)
        return;
    if (!browse_copy_done(b->copy)) {
        st->dirty = true;       /* the progress line */
        return;
    }
    struct browse_result r;
    struct cb_error err = { 0 };
    int rc = browse_copy_finish(b->copy, false, &r, &err);
    b->copy = NULL;
    clear_report(b);
    if (!st->message_error)
        st->message[0] = '\0';     /* "copying ...": the report below replaces it */
    char line[1200], done[32], listed[32], logp[4200];
    job_log_path(st->q.reports_dir, logp, sizeof(logp));
    if (rc) {
        snprintf(line, sizeof(line), "Nothing was copied: %s", err.msg);
        b->report_bad = true;
    } else {
        units_format_bytes(r.bytes_copied, done, sizeof(done));
        units_format_bytes(r.bytes_listed, listed, sizeof(listed));
        if (r.nfailed == 0)
            snprintf(line, sizeof(line), "Copied %zu file%s (%s) to %s. Sizes checked: the bytes copied equal the "
                     "sizes the image lists (%s).", r.files_copied, r.files_copied == 1 ? "" : "s", done, b->dest,
                     listed);
        else
            snprintf(line, sizeof(line), "Copied %zu of %zu files (%s of %s) to %s; the sizes of those copied are "
                     "checked. %zu could not be copied%s (also in %s):", r.files_copied, r.files_listed, done, listed,
                     b->dest, r.nfailed, r.cancelled ? " (the copy was stopped)" : "", logp);
        b->report_bad = r.nfailed > 0;
    }
    add_report(b, line);
    job_log_append(st->q.reports_dir, "browse %s: %s", b->image, line);
    for (size_t i = 0; i < r.nfailed; i++) {
        add_report(b, r.failed[i]);
        job_log_append(st->q.reports_dir, "browse %s: %s", b->image, r.failed[i]);
    }
    browse_result_free(&r);
    st->dirty = true;
}

static int end_copy(struct station *st)
{
    struct browse_view *b = st->browse;
    if (!b->copy)
        return 0;
    struct browse_result r;
    struct cb_error err = { 0 };
    browse_copy_finish(b->copy, true, &r, &err);
    b->copy = NULL;
    browse_result_free(&r);
    return 1;
}

int browse_end(struct station *st, char *msg, size_t len)
{
    struct browse_view *b = st->browse;
    msg[0] = '\0';
    if (!b)
        return 0;
    end_copy(st);
    if (b->opening)
        opened(st);         /* waits for the mount: then it is undone like any other */
    close_image(st);
    int rc = 0;
    for (int i = 0; i < b->nstuck; i++) {
        struct cb_error err = { 0 };
        if (image_umount(b->stuck[i], NULL, &err) == 0 || err.code == -EINVAL) {
            rmdir(b->stuck[i]);
        } else {
            size_t n = strlen(msg);
            snprintf(msg + n, len - n, "%s%s (`clonebay umount %s` once it is free)", n ? "; " : "", err.msg,
                     b->stuck[i]);
            rc = -EBUSY;
        }
    }
    reap_helpers(b, true);
    clear_report(b);
    free(b->images);
    free(b->entries);
    free(b->picks);
    free(b);
    st->browse = NULL;
    return rc;
}

int bv_count(const struct browse_view *b)
{
    return b->step == BV_IMAGES ? (int)b->nimages : b->step == BV_PARTS ? (int)b->m.nparts : (int)b->nentries;
}

static void move_cursor(struct browse_view *b, int key)
{
    int n = bv_count(b), page = LINES / 2 > 1 ? LINES / 2 : 1;
    if ((key == KEY_UP || key == 'k') && b->cursor > 0)
        b->cursor--;
    else if ((key == KEY_DOWN || key == 'j') && b->cursor + 1 < n)
        b->cursor++;
    else if (key == KEY_HOME)
        b->cursor = 0;
    else if (key == KEY_END)
        b->cursor = n ? n - 1 : 0;
    else if (key == KEY_PPAGE)
        b->cursor = b->cursor > page ? b->cursor - page : 0;
    else if (key == KEY_NPAGE)
        b->cursor = b->cursor + page < n ? b->cursor + page : (n ? n - 1 : 0);
}

/* Up/Down, j/k, Home/End, PgUp/PgDn move in every list of browse alike. */
static bool move_key(struct station *st, int key)
{
    if (key != KEY_UP && key != KEY_DOWN && key != 'k' && key != 'j' && key != KEY_HOME && key != KEY_END &&
        key != KEY_PPAGE && key != KEY_NPAGE)
        return false;
    move_cursor(st->browse, key);
    return true;
}

/* One folder up; from a partition's root, back to the partitions. */
static void go_up(struct station *st)
{
    struct browse_view *b = st->browse;
    if (!b->rel[0]) {
        b->step = BV_PARTS;
        b->cursor = b->part;
        return;
    }
    char *slash = strrchr(b->rel, '/');
    char came[BROWSE_NAME_MAX];
    snprintf(came, sizeof(came), "%s", slash ? slash + 1 : b->rel);
    if (slash)
        *slash = '\0';
    else
        b->rel[0] = '\0';
    if (!list_files(st))
        return;
    for (size_t i = 0; i < b->nentries; i++)        /* the cursor on the folder just left */
        if (!strcmp(b->entries[i].name, came))
            b->cursor = (int)i;
}

static void go_up_key(struct station *st)
{
    go_up(st);
}

static const char *const list_notes[] = { "Up/Down (j/k), PgUp/PgDn, Home/End move in the list.", NULL };

/* ---- the images in the store ---- */

static void images_back(struct station *st)
{
    st->mode = MODE_MAIN;
}

static void open_chosen(struct station *st)
{
    struct browse_view *b = st->browse;
    if (b->cursor < (int)b->nimages)
        open_image(st, b->images[b->cursor]);
    else
        station_say(st, false, NULL, "no image to open in %s (s chooses the store)", b->folder);
}

static void list_again(struct station *st)
{
    list_images(st);
}

static const struct key_binding images_keys[] = {
    { '\r', 0, "Open read-only", "open the image read-only: its partitions", open_chosen },
    { 'r', KEY_F(5), "List again", "list the store's images again", list_again },
    { 27, 'q', "Back", "back to the main screen", images_back },
    { KEY_F(10), 0, NULL, "quit (the image open is unmounted on the way out)", station_ask_quit },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

static const struct screen images_screen = {
    .name = "browse: images", .draw = draw_browse, .key = move_key, .keys = images_keys,
    .what_works = "Up/Down choose an image, Enter opens it read-only, Esc goes back",
    .notes = list_notes,
};

/* ---- the partitions of the image open ---- */

static void close_it(struct station *st)
{
    struct browse_view *b = st->browse;
    if (b->copy) {
        station_say(st, false, NULL, "a copy is running: wait for it, or x stops it (the image stays open "
                    "until it ends)");
        return;
    }
    close_image(st);
    b->step = BV_IMAGES;
    b->cursor = b->top = 0;
    list_images(st);
}

static void open_part(struct station *st)
{
    struct browse_view *b = st->browse;
    const struct mounted_part *p = b->cursor < (int)b->m.nparts ? &b->m.parts[b->cursor] : NULL;
    if (!p)
        station_say(st, false, NULL, "no partition to open: Esc closes the image");
    else if (!p->mounted)
        station_say(st, true, NULL, "partition #%d cannot be opened: %s", p->number, p->note);
    else {
        b->part = b->cursor;
        b->rel[0] = '\0';
        if (list_files(st))
            b->step = BV_FILES;
    }
}

static void stop_copy(struct station *st)
{
    if (end_copy(st))
        station_say(st, false, NULL, "the copy was stopped; what was not copied whole was removed");
    else
        station_say(st, false, NULL, "x stops a copy: none is running");
}

static const struct key_binding parts_keys[] = {
    { '\r', KEY_RIGHT, "Files", "the partition's files", open_part },
    { 27, 'q', "Close image", "close the image (unmount it)", close_it },
    { 'x', 0, NULL, "stop the copy running", stop_copy },
    { KEY_F(10), 0, NULL, "quit (the image open is unmounted on the way out)", station_ask_quit },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

static const struct screen parts_screen = {
    .name = "browse: partitions", .draw = draw_browse, .key = move_key, .keys = parts_keys,
    .what_works = "Enter lists a partition's files, Esc closes the image (unmounts it)",
    .notes = list_notes,
};

/* ---- a partition's files ---- */

static void open_folder(struct station *st)
{
    struct browse_view *b = st->browse;
    const struct browse_entry *e = b->cursor < (int)b->nentries ? &b->entries[b->cursor] : NULL;
    if (!e) {
        station_say(st, false, NULL, "this folder is empty: Backspace goes up");
    } else if (e->kind != BROWSE_DIR) {
        station_say(st, false, NULL, "%s is not a folder: Space marks it, c copies what is marked", e->name);
    } else {
        char old[4096], rel[4096];
        snprintf(old, sizeof(old), "%s", b->rel);
        bv_entry_rel(b, e, rel, sizeof(rel));
        snprintf(b->rel, sizeof(b->rel), "%s", rel);
        if (!list_files(st))
            snprintf(b->rel, sizeof(b->rel), "%s", old);
    }
}

static void unmark_all(struct station *st)
{
    st->browse->npicks = 0;
}

static const struct key_binding files_keys[] = {
    { '\r', KEY_RIGHT, "Open folder", "open the folder", open_folder },
    { KEY_BACKSPACE, KEY_LEFT, "Up", "one folder up", go_up_key },
    { ' ', 0, "Mark", "mark the file or folder, or unmark it", toggle_mark },
    { 'c', 0, "Copy to store", "copy what is marked to the store, sizes checked", start_copy },
    { 'u', 0, "Unmark all", "unmark everything", unmark_all },
    { 27, 'q', "Up", "one folder up (from the top, the partitions)", go_up_key },
    { 'x', 0, NULL, "stop the copy running", stop_copy },
    { KEY_F(10), 0, NULL, "quit (the image open is unmounted on the way out)", station_ask_quit },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

static const struct screen files_screen = {
    .name = "browse: files", .draw = draw_browse, .key = move_key, .keys = files_keys,
    .what_works = "Enter opens a folder, Backspace goes up, Space marks, c copies, u unmarks all",
    .notes = list_notes,
};

/* ---- while the image is being opened, and with nothing open ---- */

static bool wait_a_moment(struct station *st, int key)
{
    (void)key;
    station_say(st, false, NULL, "opening %s read-only: a moment", st->browse->image);
    return true;
}

static const struct key_binding opening_keys[] = {
    { KEY_F(10), 0, "Quit", "quit (the image is unmounted on the way out)", station_ask_quit },
    { 0 },
};

static const struct screen opening_screen = {
    .name = "browse: opening", .draw = draw_browse, .key = wait_a_moment, .keys = opening_keys,
};

static const struct screen nothing_open = {
    .name = "browse: nothing", .draw = draw_browse, .key = screen_any_key_returns,
};

static const struct screen *browse_step(const struct station *st)
{
    const struct browse_view *b = st->browse;
    if (!b)
        return &nothing_open;
    if (b->opening)
        return &opening_screen;
    return b->step == BV_IMAGES ? &images_screen : b->step == BV_PARTS ? &parts_screen : &files_screen;
}

const struct screen browse_screen = {
    .name = "browse",
    .current = browse_step,
};
