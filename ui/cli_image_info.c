/* cli_image_info: `clonebay verify FILE` and `clonebay info FILE [--json]`. */
#include "clone/image_read.h"
#include "common/json_writer.h"
#include "common/units.h"
#include "jobs/damage.h"
#include "jobs/report.h"
#include "ui/cli.h"

#include <stdio.h>
#include <string.h>

static bool help_asked(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    return false;
}

int cli_verify(int argc, char **argv)
{
    if (help_asked(argc, argv)) {
        puts("Usage: clonebay verify FILE\n"
             "Decode every frame of image FILE (or its parts FILE.000...), check each frame's checksum\n"
             "and the hashes recorded in the image. Exit 0 only when the image is intact.");
        return CLI_OK;
    }
    if (argc != 2 || argv[1][0] == '-')
        return cli_fail(CLI_REFUSED, argc == 2 ? "verify: unknown option '%s'" : "usage: clonebay verify FILE%s",
                        argc == 2 ? argv[1] : "");
    struct image img;
    struct cb_error err = { 0 };
    if (image_open(&img, argv[1], &err))
        return cli_fail(CLI_FAILED, "%s", err.msg);
    struct image_check r;
    if (image_check_all(&img, NULL, &r)) {
        image_close(&img);
        return cli_fail(CLI_FAILED, "out of memory");
    }
    int code = CLI_OK;
    for (uint32_t i = 0; i < r.damaged && i < IMG_CHECK_MSGS; i++)
        fprintf(stderr, "clonebay: %s\n", r.msgs[i]);
    if (r.damaged) {
        code = cli_fail(CLI_FAILED, "%s is damaged: %u of %u frames cannot be read", img.pf.path, r.damaged,
                        img.nframes);
    } else {
        int checked = 0;
        for (int a = 0; a < HASH_COUNT; a++) {
            if (!r.digests[a][0])
                continue;
            checked++;
            bool same = !strcmp(r.digests[a], img.meta.digests[a]);
            printf("%-7s %s  %s\n", hash_name((enum hash_alg)a), r.digests[a], same ? "matches" : "DIFFERS");
            if (!same)
                fprintf(stderr, "clonebay: %s: recorded %s %s\n", img.pf.path, hash_name((enum hash_alg)a),
                        img.meta.digests[a]);
        }
        if (r.mismatched)
            code = cli_fail(CLI_FAILED, "%s is damaged: its content does not match the recorded hash", img.pf.path);
        else
            printf("%s: intact (%u frames%s)\n", img.pf.path, img.nframes,
                   checked ? ", hashes match" : "; no hash was recorded, frame checksums only");
    }
    image_close(&img);
    return code;
}

static void info_text(const struct image *img, const struct fs_owner_list *damaged, const char *note)
{
    const struct img_meta *m = &img->meta;
    char sz[32], isz[32];
    units_format_bytes(m->size, sz, sizeof(sz));
    units_format_bytes(img->pf.size, isz, sizeof(isz));
    printf("image    %s\n", img->pf.path);
    if (img->pf.nparts > 1)
        printf("parts    %d (%s.000 ... %s.%03d)\n", img->pf.nparts, img->pf.path, img->pf.path, img->pf.nparts - 1);
    printf("format   clonebay image %d, made by %s on %s\n", m->format, m->tool_version, m->created);
    printf("source   %s  %s  %s%s%s\n", m->source_path, m->source_kind, m->source_model,
           m->source_serial[0] ? "  serial " : "", m->source_serial);
    printf("size     %s (%llu bytes, %u-byte sectors)\n", sz, (unsigned long long)m->size, m->sector);
    printf("stored   %s (%llu bytes), ratio %.2f, %u frames of %u KiB\n", isz, (unsigned long long)img->pf.size,
           img->pf.size ? (double)m->size / (double)img->pf.size : 0.0, img->nframes, m->frame_size >> 10);
    printf("layout   %s\n", m->contents[0] ? m->contents : "unknown");
    if (m->used_only) {
        char u[32];
        units_format_bytes(img_used_bytes(m), u, sizeof(u));
        printf("mode     used blocks only: free space is stored as zeros\n");
        if (m->nused)
            printf("used     %s in %zu ranges: restores fit the partitions onto drives of any size\n", u, m->nused);
    }
    for (int a = 0; a < HASH_COUNT; a++)
        if (m->digests[a][0])
            printf("%-8s %s\n", hash_name((enum hash_alg)a), m->digests[a]);
    if (!m->nbad)
        printf("bad      none\n");
    for (size_t i = 0; i < m->nbad; i++)
        printf("%s offset %llu, %llu bytes (%llu sectors)%s%s\n", i ? "        " : "bad     ",
               (unsigned long long)m->bad[i].off, (unsigned long long)m->bad[i].len,
               (unsigned long long)(m->bad[i].len / m->sector), m->fill[0] ? ", filled with " : "", m->fill);
    report_damaged_text(damaged, stdout);
    if (note[0])
        printf("note     %s\n", note);
}

static void info_json(const struct image *img, const struct fs_owner_list *damaged, const char *note)
{
    const struct img_meta *m = &img->meta;
    struct json_writer w;
    jw_init(&w, stdout);
    jw_object_begin(&w, NULL);
    jw_string(&w, "path", img->pf.path);
    jw_u64(&w, "parts", (uint64_t)img->pf.nparts);
    jw_u64(&w, "format", (uint64_t)m->format);
    jw_string(&w, "tool", m->tool_version);
    jw_string(&w, "created", m->created);
    jw_object_begin(&w, "source");
    jw_string(&w, "path", m->source_path);
    jw_string(&w, "kind", m->source_kind);
    jw_string(&w, "model", m->source_model);
    jw_string(&w, "serial", m->source_serial);
    jw_object_end(&w);
    jw_u64(&w, "size", m->size);
    jw_u64(&w, "sector_size", m->sector);
    jw_u64(&w, "image_bytes", img->pf.size);
    jw_double(&w, "ratio", img->pf.size ? (double)m->size / (double)img->pf.size : 0.0);
    jw_u64(&w, "frames", img->nframes);
    jw_u64(&w, "frame_size", m->frame_size);
    jw_string(&w, "layout", m->contents);
    jw_string(&w, "mode", m->used_only ? "used" : "raw");
    if (m->nused) {
        jw_u64(&w, "used_bytes", img_used_bytes(m));
        jw_u64(&w, "used_ranges", (uint64_t)m->nused);
    }
    jw_object_begin(&w, "hashes");
    for (int a = 0; a < HASH_COUNT; a++)
        if (m->digests[a][0])
            jw_string(&w, hash_name((enum hash_alg)a), m->digests[a]);
    jw_object_end(&w);
    jw_array_begin(&w, "bad_sectors");
    for (size_t i = 0; i < m->nbad; i++) {
        jw_object_begin(&w, NULL);
        jw_u64(&w, "offset", m->bad[i].off);
        jw_u64(&w, "length", m->bad[i].len);
        jw_u64(&w, "sectors", m->bad[i].len / m->sector);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_string(&w, "fill", m->fill[0] ? m->fill : NULL);
    report_damaged_json(damaged, &w);
    jw_string(&w, "damaged_note", note[0] ? note : NULL);
    jw_object_end(&w);
    jw_finish(&w);
}

int cli_info(int argc, char **argv)
{
    if (help_asked(argc, argv)) {
        puts("Usage: clonebay info FILE [--json]\n"
             "What image FILE holds: source drive, size, date, tool version, hashes, compression\n"
             "ratio, unreadable ranges (with the files, filesystem metadata or free space they hit)\n"
             "and partition layout.");
        return CLI_OK;
    }
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-')
            return cli_fail(CLI_REFUSED, "info: unknown option '%s' (try 'clonebay info --help')", argv[i]);
        else if (path)
            return cli_fail(CLI_REFUSED, "info: one image at a time");
        else
            path = argv[i];
    }
    if (!path)
        return cli_fail(CLI_REFUSED, "usage: clonebay info FILE [--json]");
    struct image img;
    struct cb_error err = { 0 };
    if (image_open(&img, path, &err))
        return cli_fail(CLI_FAILED, "%s", err.msg);
    /* What the unreadable ranges hit, looked up in the image's own filesystems. */
    struct fs_owner_list damaged;
    char note[600];
    damage_find_in_image(&img, &damaged, note, sizeof(note));
    if (json)
        info_json(&img, &damaged, note);
    else
        info_text(&img, &damaged, note);
    fs_owners_free(&damaged);
    image_close(&img);
    return CLI_OK;
}
