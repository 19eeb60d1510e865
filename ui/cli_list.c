/* cli_list: `clonebay list [--json] [--sysroot DIR] [--bench DIR]`. */
#include "common/json_writer.h"
#include "common/units.h"
#include "devices/dev_health_cache.h"
#include "devices/dev_scan.h"
#include "ui/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void flags_text(const struct dev_drive *d, char *buf, size_t len)
{
    buf[0] = '\0';
    struct { bool on; const char *name; } flags[] = {
        { d->system, "SYSTEM" }, { d->mounted, "MOUNTED" }, { d->busy, "BUSY" },
        { d->readonly, "RO" }, { d->removable, "REMOVABLE" },
        { d->is_optical && !d->optical.media, "NO-MEDIA" },
        { d->is_optical && d->optical.blank, "BLANK" },
        { !d->is_optical && d->size == 0, "NO-MEDIA" },
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (!flags[i].on)
            continue;
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s", n ? "," : "", flags[i].name);
    }
    if (d->size && (d->logical_sector != 512 || d->physical_sector != 512)) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%sSECTORS=%u/%u", n ? "," : "", d->logical_sector, d->physical_sector);
    }
}

/* Every drive's health, read in parallel (smartctl takes seconds on some);
 * NULL with --no-health. Loops and virtual disks answer at once. */
static struct dev_health *read_health(const struct dev_list *list)
{
    struct dev_health *h = calloc(list->count ? list->count : 1, sizeof(*h));
    struct dev_health_cache *c;
    if (!h || dev_health_cache_open(&c, list->count > 8 ? 8 : (int)list->count, 60) != 0) {
        free(h);
        return NULL;
    }
    for (size_t i = 0; i < list->count; i++)
        dev_health_cache_get(c, &list->drives[i], &h[i]);
    dev_health_cache_wait(c);
    for (size_t i = 0; i < list->count; i++)
        dev_health_cache_get(c, &list->drives[i], &h[i]);
    dev_health_cache_close(c);
    return h;
}

static void print_table(const struct dev_list *list, const struct dev_health *health)
{
    printf("%-16s %-8s %10s  %-28s %-20s %-8s %s\n", "DEVICE", "KIND", "SIZE", "MODEL", "SERIAL", "HEALTH", "FLAGS");
    for (size_t i = 0; i < list->count; i++) {
        const struct dev_drive *d = &list->drives[i];
        char size[32], flags[128], model[160];
        units_format_bytes(d->size, size, sizeof(size));
        flags_text(d, flags, sizeof(flags));
        if (d->kind == DEV_KIND_LOOP && d->backing_file[0])
            snprintf(model, sizeof(model), "file %s", d->backing_file);
        else
            snprintf(model, sizeof(model), "%s%s%s", d->vendor, d->vendor[0] ? " " : "", d->model);
        printf("%-16s %-8s %10s  %-28s %-20s %-8s %s\n", d->path, dev_kind_name(d->kind), size, model,
               d->serial, health ? dev_health_word(health[i].state) : "-", flags);
        char hidden[96] = "";
        if (health)
            dev_health_hidden_text(&health[i], hidden, sizeof(hidden));
        if (health && (hidden[0] || (health[i].state != DEV_HEALTH_UNKNOWN && health[i].state != DEV_HEALTH_OK))) {
            char line[400];
            dev_health_summary(&health[i], line, sizeof(line));
            printf("  health: %s\n", line);
        }
        for (size_t j = 0; j < d->npart; j++) {
            const struct dev_partition *p = &d->parts[j];
            char where[64];
            if (p->path[0])
                snprintf(where, sizeof(where), "%s", p->path);
            else
                snprintf(where, sizeof(where), "#%d", p->number);
            units_format_bytes(p->size, size, sizeof(size));
            printf("  %-14s %-8s %10s  %-28s %s\n", where, p->fstype[0] ? p->fstype : "-", size,
                   p->label, p->uuid);
        }
    }
}

static void print_json(const struct dev_list *list, const struct dev_health *health)
{
    struct json_writer w;
    jw_init(&w, stdout);
    jw_array_begin(&w, NULL);
    for (size_t i = 0; i < list->count; i++) {
        const struct dev_drive *d = &list->drives[i];
        jw_object_begin(&w, NULL);
        jw_string(&w, "path", d->path);
        jw_string(&w, "name", d->name);
        jw_string(&w, "kind", dev_kind_name(d->kind));
        jw_string(&w, "bus", dev_bus_name(d->bus));
        jw_string(&w, "vendor", d->vendor);
        jw_string(&w, "model", d->model);
        jw_string(&w, "serial", d->serial);
        jw_string(&w, "wwn", d->wwn);
        jw_u64(&w, "size", d->size);
        jw_u64(&w, "logical_sector_size", d->logical_sector);
        jw_u64(&w, "physical_sector_size", d->physical_sector);
        jw_bool(&w, "rotational", d->rotational);
        jw_bool(&w, "removable", d->removable);
        jw_bool(&w, "read_only", d->readonly);
        jw_string(&w, "backing_file", d->backing_file[0] ? d->backing_file : NULL);
        jw_string(&w, "partition_table", d->pttype[0] ? d->pttype : NULL);
        jw_string(&w, "fstype", d->fstype[0] ? d->fstype : NULL);
        jw_bool(&w, "mounted", d->mounted);
        jw_string(&w, "mounted_reason", d->mounted ? d->mounted_why : NULL);
        jw_bool(&w, "system", d->system);
        jw_string(&w, "system_reason", d->system ? d->system_why : NULL);
        jw_bool(&w, "busy", d->busy);
        jw_string(&w, "busy_reason", d->busy ? d->busy_why : NULL);
        dev_health_write_json(&w, "health", health ? &health[i] : NULL);
        if (d->is_optical) {
            jw_object_begin(&w, "optical");
            jw_bool(&w, "media", d->optical.media);
            jw_bool(&w, "blank", d->optical.blank);
            jw_string(&w, "media_type", d->optical.media_type[0] ? d->optical.media_type : NULL);
            jw_u64(&w, "data_tracks", d->optical.data_tracks);
            jw_u64(&w, "audio_tracks", d->optical.audio_tracks);
            jw_object_end(&w);
        } else {
            jw_null(&w, "optical");
        }
        jw_array_begin(&w, "partitions");
        for (size_t j = 0; j < d->npart; j++) {
            const struct dev_partition *p = &d->parts[j];
            jw_object_begin(&w, NULL);
            jw_u64(&w, "number", (uint64_t)p->number);
            jw_string(&w, "path", p->path[0] ? p->path : NULL);
            jw_u64(&w, "start", p->start);
            jw_u64(&w, "size", p->size);
            jw_string(&w, "fstype", p->fstype[0] ? p->fstype : NULL);
            jw_string(&w, "label", p->label[0] ? p->label : NULL);
            jw_string(&w, "uuid", p->uuid[0] ? p->uuid : NULL);
            jw_object_end(&w);
        }
        jw_array_end(&w);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_finish(&w);
}

int cli_list(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "sysroot", required_argument, NULL, 'r' },
        { "bench", required_argument, NULL, 'b' },
        { "no-health", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    bool json = false, health = true;
    const char *sysroot = NULL, *bench = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'r': sysroot = optarg; break;
        case 'b': bench = optarg; break;
        case 'n': health = false; break;
        case 'h':
            puts("Usage: clonebay list [--json] [--sysroot DIR] [--bench DIR] [--no-health]\n"
                 "Show every drive with kind, size, model, serial, health, partitions and flags\n"
                 "(SYSTEM, MOUNTED, BUSY, RO, NO-MEDIA, SECTORS=logical/physical where not\n"
                 "512/512). Health (ok, worn, failing, unknown) is SMART read by smartctl;\n"
                 "--no-health leaves it out. --sysroot reads a saved /sys tree;\n"
                 "--bench lists only loop devices over files in DIR (the practice bench).");
            return CLI_OK;
        default:
            return cli_fail(CLI_REFUSED, "list: unknown option '%s' (try 'clonebay list --help')",
                            argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_fail(CLI_REFUSED, "list: unexpected argument '%s'", argv[optind]);
    struct dev_list list;
    struct cb_error err = { 0 };
    struct dev_scan_opts so = { .sysroot = sysroot, .bench_dir = bench };
    if (dev_scan(&so, &list, &err))
        return cli_fail(CLI_FAILED, "%s", err.msg);
    /* A saved tree describes another machine: its drives are not here to ask. */
    struct dev_health *h = health && !sysroot ? read_health(&list) : NULL;
    if (json)
        print_json(&list, h);
    else
        print_table(&list, h);
    free(h);
    dev_list_free(&list);
    return CLI_OK;
}
