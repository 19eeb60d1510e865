/* station_wizard_keys: the new-job wizard's steps as screens, each with its
 * key table (its key bar), and what the keys do. Moving the cursor stays out
 * of the tables (every list moves alike); the file name is typed through the
 * path step's own key function. */
#include "clone/image_read.h"
#include "jobs/image_job.h"
#include "ui/screen.h"
#include "ui/station_wizard.h"

#include <sys/stat.h>

#include <curses.h>
#include <stdio.h>
#include <string.h>

#define KEY_ESC 27

static void toggle_pick(struct wizard *w, const struct dev_drive *d)
{
    for (size_t i = 0; i < w->npicked; i++)
        if (dev_ident_matches(&w->picked[i], d, NULL, 0)) {
            memmove(&w->picked[i], &w->picked[i + 1], (w->npicked - i - 1) * sizeof(w->picked[0]));
            w->npicked--;
            return;
        }
    if (w->npicked == JOB_MAX_TARGETS) {
        snprintf(w->error, sizeof(w->error), "a job takes at most %d targets", JOB_MAX_TARGETS);
        return;
    }
    dev_ident_of(d, &w->picked[w->npicked++]);
}

static bool is_move(int key)
{
    return key == KEY_UP || key == KEY_DOWN || key == 'k' || key == 'j' || key == KEY_HOME || key == KEY_END;
}

static int move_cursor(int cursor, int key, int count)
{
    if ((key == KEY_UP || key == 'k') && cursor > 0)
        return cursor - 1;
    if ((key == KEY_DOWN || key == 'j') && cursor + 1 < count)
        return cursor + 1;
    return cursor;
}

/* A failing source (its SMART, read in the background) is copied with the
 * rescue settings: a map file (the copy resumes after a crash or a pulled
 * cable) and more passes over unreadable sectors. Offered, not forced: the
 * options screen shows and changes them. */
static void advise_source(struct station *st, const struct dev_drive *d)
{
    struct wizard *w = &st->wiz;
    struct dev_health h;
    if (!st->health || !dev_health_cache_get(st->health, d, &h) || h.state != DEV_HEALTH_FAILING)
        return;
    w->keep_map = true;
    if (w->retries < 3)
        w->retries = 3;
    station_say(st, true, NULL, "source %s is failing (%s): rescue settings chosen: a map file beside the reports "
                "and %d passes over unreadable sectors (the options screen changes them)", d->path, h.why,
                w->retries);
}

/* The marked targets whose own SMART says sectors went bad, in words; false when none. */
static bool risky_targets(struct station *st, char *buf, size_t len)
{
    const struct wizard *w = &st->wiz;
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; st->health && w->kind != JOB_IMAGE && i < w->npicked && n < len; i++) {
        struct dev_health h;
        const struct dev_drive *d = dev_ident_find(&st->devs, &w->picked[i]);
        if (!d || !dev_health_cache_get(st->health, d, &h))
            continue;
        if (h.state == DEV_HEALTH_FAILING || h.pending > 0 || h.reallocated > 0 || h.uncorrectable > 0 ||
            h.media_errors > 0)
            n += (size_t)snprintf(buf + n, len - n, "%starget %s is %s (%s)", n ? "; " : "", d->path,
                                  dev_health_word(h.state), h.why);
    }
    return n > 0;
}

static void path_done(struct station *st)
{
    struct wizard *w = &st->wiz;
    if (!w->path[0]) {
        snprintf(w->error, sizeof(w->error), "type a file name first");
        return;
    }
    if (!w->path_for_restore) {
        w->step = WIZ_OPTIONS;
        return;
    }
    struct stat sb;
    if (image_job_raw_name(w->path)) {         /* .img or .iso: the disk is the file */
        if (stat(w->path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            snprintf(w->error, sizeof(w->error), "%s is not a file clonebay can read", w->path);
            return;
        }
        w->source_size = (uint64_t)sb.st_size;
        w->source_table = false;
    } else {
        struct image img;
        struct cb_error err = { 0 };
        if (image_open(&img, w->path, &err) != 0) {
            snprintf(w->error, sizeof(w->error), "%s", err.msg);
            return;
        }
        w->source_size = img.meta.size;
        /* An image of a partitioned drive: the planner may fit it onto a smaller one. */
        w->source_table = !strncmp(img.meta.contents, "gpt", 3) || !strncmp(img.meta.contents, "dos", 3);
        image_close(&img);
    }
    snprintf(w->source, sizeof(w->source), "%s", w->path);
    w->source_is_drive = false;
    w->kind = JOB_RESTORE;
    w->step = WIZ_TARGETS;
    w->cursor = 0;
}

static void cycle_mode(struct wizard *w)
{
    w->mode = w->mode == COPY_AUTO ? COPY_USED : w->mode == COPY_USED ? COPY_RAW : COPY_AUTO;
}

static void cycle_retries(struct wizard *w)
{
    static const int n[] = { 1, 2, 3, 5, 0 };
    size_t i = 0;
    while (i < 5 && n[i] != w->retries)
        i++;
    w->retries = n[(i + 1) % 5];
}

static void cycle_hash(struct wizard *w)
{
    static const unsigned sets[] = {
        1u << HASH_SHA256, 1u << HASH_SHA256 | 1u << HASH_MD5, 1u << HASH_SHA512, 1u << HASH_MD5, 0,
    };
    size_t n = sizeof(sets) / sizeof(sets[0]), i = 0;
    while (i < n && sets[i] != w->hash_mask)
        i++;
    w->hash_mask = sets[(i + 1) % n];
}

static void cycle_split(struct wizard *w)
{
    static const uint64_t sizes[] = { 0, 4ull << 30, 2ull << 30, 1ull << 30, 650ull << 20 };
    size_t n = sizeof(sizes) / sizeof(sizes[0]), i = 0;
    while (i < n && sizes[i] != w->split)
        i++;
    w->split = sizes[(i + 1) % n];
}

static void to_main(struct station *st)
{
    st->mode = MODE_MAIN;
}

/* Up/Down (j/k) in the drive lists; Home and End are taken and do nothing. */
static bool move_in(struct station *st, int key, int rows)
{
    if (!is_move(key))
        return false;
    st->wiz.cursor = move_cursor(st->wiz.cursor, key, rows);
    return true;
}

static const char *const list_notes[] = { "Up/Down (j/k) choose a drive.", NULL };

/* ---- step 1: the source ---- */

static const char src_works[] = "Up/Down choose the source, Enter takes it, i restores an image, o browses one, "
                                "Esc cancels";

static void take_source(struct station *st)
{
    struct wizard *w = &st->wiz;
    if (w->cursor >= (int)st->devs.count) {
        station_key_unused(st, '\r', src_works);
        return;
    }
    const struct dev_drive *d = &st->devs.drives[w->cursor];
    if (d->size == 0) {
        snprintf(w->error, sizeof(w->error), "%s has no medium", d->path);
        return;
    }
    snprintf(w->source, sizeof(w->source), "%s", d->path);
    dev_ident_of(d, &w->source_id);
    w->source_is_drive = true;
    w->source_size = d->size;
    w->source_table = d->pttype[0] != '\0' && !d->is_optical;
    w->kind = JOB_CLONE;
    w->step = WIZ_TARGETS;
    w->cursor = 0;
    w->npicked = 0;
    advise_source(st, d);
}

static void restore_image(struct station *st)
{
    struct wizard *w = &st->wiz;
    w->path_for_restore = true;
    snprintf(w->path, sizeof(w->path), "%s%s", st->store_dir, st->store_dir[0] ? "/" : "");
    w->step = WIZ_PATH;
}

static bool source_move(struct station *st, int key)
{
    return move_in(st, key, (int)st->devs.count);
}

static const struct key_binding source_keys[] = {
    { '\r', 0, "Choose", "the drive to read (it is only read)", take_source },
    { 'i', 0, "Restore an image", "restore an image file to drives instead", restore_image },
    { 'o', 0, "Browse an image", "look into an image in the store before restoring it", browse_start },
    { KEY_ESC, 'q', "Cancel", "back to the main screen", to_main },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

static const struct screen source_screen = {
    .name = "new job: source", .draw = wizard_draw, .key = source_move, .keys = source_keys,
    .what_works = src_works, .notes = list_notes,
};

/* ---- step 2: the targets, or "Image file..." ---- */

static void targets_back(struct station *st)
{
    struct wizard *w = &st->wiz;
    w->step = w->kind == JOB_RESTORE ? WIZ_PATH : WIZ_SOURCE;
    w->cursor = 0;
}

static const char tgt_works[] = "Space marks a target, Enter goes on, Esc goes back";

static void mark(struct station *st)
{
    struct wizard *w = &st->wiz;
    if (w->cursor >= (int)st->devs.count) {
        station_key_unused(st, ' ', tgt_works);     /* on "Image file...": Enter names it */
        return;
    }
    const struct dev_drive *d = &st->devs.drives[w->cursor];
    const char *why = wizard_unpickable(st, d);
    if (why)
        snprintf(w->error, sizeof(w->error), "%s cannot be a target: %s", d->path, why);
    else
        toggle_pick(w, d);
}

static void targets_done(struct station *st)
{
    struct wizard *w = &st->wiz;
    if (w->cursor == (int)st->devs.count && w->kind != JOB_RESTORE) {
        w->kind = JOB_IMAGE;
        w->path_for_restore = false;
        /* Start in the chosen store: typing a name is all that is left. */
        snprintf(w->path, sizeof(w->path), "%s%s", st->store_dir, st->store_dir[0] ? "/" : "");
        w->step = WIZ_PATH;
    } else if (w->npicked) {
        w->step = WIZ_OPTIONS;
    } else {
        snprintf(w->error, sizeof(w->error), "mark at least one target with Space");
    }
}

static bool targets_move(struct station *st, int key)
{
    return move_in(st, key, (int)st->devs.count + (st->wiz.kind == JOB_RESTORE ? 0 : 1));
}

static const struct key_binding targets_keys[] = {
    { ' ', 0, "Mark", "mark the drive as a target, or unmark it", mark },
    { '\r', 0, "Next", "to the options (on 'Image file...': name the image)", targets_done },
    { KEY_ESC, 'q', "Back", "back to the source", targets_back },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

static const struct screen targets_screen = {
    .name = "new job: targets", .draw = wizard_draw, .key = targets_move, .keys = targets_keys,
    .what_works = tgt_works, .notes = list_notes,
};

/* ---- the image file's name (to write, or to restore) ---- */

static void path_back(struct station *st)
{
    struct wizard *w = &st->wiz;
    w->step = w->path_for_restore ? WIZ_SOURCE : WIZ_TARGETS;
    if (!w->path_for_restore)
        w->kind = JOB_CLONE;
}

static void path_erase(struct station *st)
{
    size_t n = strlen(st->wiz.path);
    if (n > 0)
        st->wiz.path[n - 1] = '\0';
}

/* Typing: every printable key is part of the name (q and h too). */
static bool path_type(struct station *st, int key)
{
    struct wizard *w = &st->wiz;
    size_t n = strlen(w->path);
    if (key >= 32 && key < 127 && n + 1 < sizeof(w->path)) {
        w->path[n] = (char)key;
        w->path[n + 1] = '\0';
    }
    return true;
}

static const struct key_binding path_keys[] = {
    { '\r', 0, "OK", "take the name", path_done },
    { KEY_ESC, 0, "Back", "back a step", path_back },
    { KEY_BACKSPACE, 0, NULL, "erase the last character", path_erase },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

static const struct screen path_screen = {
    .name = "new job: image file", .draw = wizard_draw, .key = path_type, .keys = path_keys,
};

/* ---- step 3: the options ---- */

static void options_unused(struct station *st, int key)
{
    station_key_unused(st, key, st->wiz.kind == JOB_IMAGE ? "h v m t p, +/- level, s split, Enter, Esc"
                                                          : "h hash, v verify, m mode, r resize, t retries, p map, "
                                                            "Enter goes on, Esc goes back");
}

static bool options_other(struct station *st, int key)
{
    options_unused(st, key);
    return true;
}

static void options_back(struct station *st)
{
    st->wiz.step = st->wiz.kind == JOB_IMAGE ? WIZ_PATH : WIZ_TARGETS;
}

static void hash(struct station *st)
{
    cycle_hash(&st->wiz);
}

static void verify(struct station *st)
{
    st->wiz.verify = !st->wiz.verify;
}

static void mode(struct station *st)
{
    if (st->wiz.kind == JOB_RESTORE)
        options_unused(st, 'm');
    else
        cycle_mode(&st->wiz);
}

static void resize(struct station *st)
{
    if (st->wiz.kind == JOB_IMAGE)
        options_unused(st, 'r');
    else
        st->wiz.resize = st->wiz.resize == RESIZE_KEEP ? RESIZE_AUTO : RESIZE_KEEP;
}

static void retries(struct station *st)
{
    cycle_retries(&st->wiz);
}

static void map(struct station *st)
{
    st->wiz.keep_map = !st->wiz.keep_map;
}

static void level_up(struct station *st)
{
    if (st->wiz.level < 19)
        st->wiz.level++;
    else
        options_unused(st, '+');
}

static void level_down(struct station *st)
{
    if (st->wiz.level > 1)
        st->wiz.level--;
    else
        options_unused(st, '-');
}

static void split(struct station *st)
{
    if (st->wiz.kind == JOB_IMAGE)
        cycle_split(&st->wiz);
    else
        station_say(st, false, NULL, "s splits images only: a copy to drives is never split");
}

static const struct key_binding options_keys[] = {
    { 'h', 0, "Hash", "the hashes taken of what is read", hash },
    { 'v', 0, "Verify", "read every target back from the media", verify },
    { 'm', 0, "Mode", "auto, used blocks only, or every sector (not for a restore)", mode },
    { 'r', 0, "Resize", "keep the table, or fit the partitions to each target (not for an image)", resize },
    { 't', 0, "Retries", "passes over unreadable sectors", retries },
    { 'p', 0, "Map", "a map file beside the reports: a crash or a pulled cable resumes", map },
    { '\r', 0, "Next", "to the confirmation", wizard_enter_confirm },
    { KEY_ESC, 'q', "Back", "back a step", options_back },
    { '+', 0, NULL, "an image: a higher zstd level", level_up },
    { '-', 0, NULL, "an image: a lower zstd level", level_down },
    { 's', 0, NULL, "an image: split it into files of this size", split },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

static const struct screen options_screen = {
    .name = "new job: options", .draw = wizard_draw, .key = options_other, .keys = options_keys,
};

/* ---- step 4: the confirmation ---- */

static void start(struct station *st)
{
    struct wizard *w = &st->wiz;
    char why[sizeof(w->error) - 64];
    if (!w->risky_confirmed && risky_targets(st, why, sizeof(why))) {
        w->risky_confirmed = true;      /* a second Y, on purpose, writes it */
        snprintf(w->error, sizeof(w->error), "%s: Y again writes it all the same, Esc goes back", why);
    } else {
        wizard_submit(st);
    }
}

static void confirm_back(struct station *st)
{
    wizard_retire_preview(st);
    st->wiz.start_when_planned = false;
    st->wiz.step = WIZ_OPTIONS;
}

static const struct key_binding confirm_keys[] = {
    { 'Y', 'y', "Start", "start the job: nothing is written before this", start },
    { KEY_ESC, 'n', "Back", "back to the options", confirm_back },
    { 'q', 0, NULL, NULL, confirm_back },
    { KEY_F(1), 0, NULL, "this help", station_help },
    { 0 },
};

static const struct screen confirm_screen = {
    .name = "new job: confirm", .draw = wizard_draw, .keys = confirm_keys,
    .what_works = "Y starts the job, Esc goes back",
};

/* ---- Y pressed: the job prepares in its own thread ---- */

static void starting_leave(struct station *st)
{
    st->mode = MODE_MAIN;
    st->focus_jobs = true;
    st->sel_job = (int)st->q.count - 1;
}

static void starting_main(struct station *st)
{
    station_say(st, false, NULL, "job #%d goes on preparing", st->wiz.starting_id);
    starting_leave(st);
}

/* Any other key belongs to the main screen (F10 to quit, a job, a drive):
 * the job goes on preparing, and a refusal shows on its line. */
static bool starting_other(struct station *st, int key)
{
    starting_leave(st);
    screen_dispatch(st, &main_screen, key);
    return true;
}

static const struct key_binding starting_keys[] = {
    { KEY_ESC, 'q', "Main screen", "back to the main screen; the job goes on", starting_main },
    { 0 },
};

static const struct screen starting_screen = {
    .name = "new job: starting", .draw = wizard_draw, .key = starting_other, .keys = starting_keys,
};

static const struct screen *wizard_step(const struct station *st)
{
    static const struct screen *const steps[] = {
        [WIZ_SOURCE] = &source_screen, [WIZ_TARGETS] = &targets_screen, [WIZ_PATH] = &path_screen,
        [WIZ_OPTIONS] = &options_screen, [WIZ_CONFIRM] = &confirm_screen, [WIZ_STARTING] = &starting_screen,
    };
    return steps[st->wiz.step];
}

const struct screen wizard_screen = {
    .name = "new job",
    .current = wizard_step,
};
