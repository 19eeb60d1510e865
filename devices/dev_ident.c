#include "devices/dev_ident.h"
#include "devices/dev_relation.h"
#include "devices/dev_scan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

void dev_ident_of(const struct dev_drive *d, struct dev_ident *id)
{
    memset(id, 0, sizeof(*id));
    id->major = d->major;
    id->minor = d->minor;
    id->diskseq = d->diskseq;
    id->size = d->size;
    snprintf(id->name, sizeof(id->name), "%s", d->name);
    snprintf(id->model, sizeof(id->model), "%s", d->model);
    snprintf(id->serial, sizeof(id->serial), "%s", d->serial);
    snprintf(id->wwn, sizeof(id->wwn), "%s", d->wwn);
    snprintf(id->backing, sizeof(id->backing), "%s", d->backing_file);
}

bool dev_ident_matches(const struct dev_ident *id, const struct dev_drive *d, char *why, size_t len)
{
    char dummy[8];
    if (!why) {
        why = dummy;
        len = sizeof(dummy);
    }
    why[0] = '\0';
    if (d->major != id->major || d->minor != id->minor)
        snprintf(why, len, "it is another device now (%u:%u, it was %u:%u)", d->major, d->minor, id->major,
                 id->minor);
    else if (strcmp(d->serial, id->serial) != 0)
        snprintf(why, len, "its serial is now '%s', it was '%s'", d->serial, id->serial);
    else if (strcmp(d->wwn, id->wwn) != 0)
        snprintf(why, len, "its WWN is now '%s', it was '%s'", d->wwn, id->wwn);
    else if (strcmp(d->backing_file, id->backing) != 0)
        snprintf(why, len, "it is a loop over %s now, it was over %s", d->backing_file, id->backing);
    else if (d->size != id->size)
        snprintf(why, len, "its size is now %llu bytes, it was %llu", (unsigned long long)d->size,
                 (unsigned long long)id->size);
    else if (d->diskseq && id->diskseq && d->diskseq != id->diskseq)
        snprintf(why, len, "it was unplugged or its medium changed since (diskseq %llu, it was %llu)",
                 (unsigned long long)d->diskseq, (unsigned long long)id->diskseq);
    return why[0] == '\0';
}

struct dev_drive *dev_ident_find(struct dev_list *list, const struct dev_ident *id)
{
    for (size_t i = 0; i < list->count; i++)
        if (dev_ident_matches(id, &list->drives[i], NULL, 0))
            return &list->drives[i];
    return NULL;
}

int dev_ident_read(const struct sysfs_ctx *ctx, dev_t rdev, struct dev_ident *id)
{
    memset(id, 0, sizeof(*id));
    dev_t disk = dev_whole_disk(ctx, rdev);
    char name[64];
    dev_name_of(ctx, disk, name, sizeof(name));
    if (!name[0])
        return -ENODEV;
    struct dev_drive d;
    int rc = dev_identify_one(ctx, name, &d);
    if (rc)
        return rc;
    dev_ident_of(&d, id);
    return 0;
}

int dev_ident_check(const struct sysfs_ctx *ctx, const struct dev_ident *id, char *why, size_t len)
{
    struct dev_ident now;
    char how[300];
    if (dev_ident_read(ctx, makedev(id->major, id->minor), &now)) {
        snprintf(why, len, "/dev/%s (%s) was removed", id->name, id->model[0] ? id->model : "drive");
        return -ENODEV;
    }
    struct dev_drive d = { .major = now.major, .minor = now.minor, .diskseq = now.diskseq, .size = now.size };
    snprintf(d.serial, sizeof(d.serial), "%s", now.serial);
    snprintf(d.wwn, sizeof(d.wwn), "%s", now.wwn);
    snprintf(d.backing_file, sizeof(d.backing_file), "%s", now.backing);
    if (dev_ident_matches(id, &d, how, sizeof(how)))
        return 0;
    snprintf(why, len, "/dev/%s is not the drive that was confirmed (%s%s%s): %s", id->name,
             id->model[0] ? id->model : "drive", id->serial[0] ? ", serial " : "", id->serial, how);
    return -ESTALE;
}

void dev_ident_key(const struct dev_ident *id, char *buf, size_t len)
{
    if (id->serial[0])
        snprintf(buf, len, "serial %s, %llu bytes", id->serial, (unsigned long long)id->size);
    else if (id->wwn[0])
        snprintf(buf, len, "wwn %s, %llu bytes", id->wwn, (unsigned long long)id->size);
    else if (id->backing[0])
        snprintf(buf, len, "loop over %s, %llu bytes", id->backing, (unsigned long long)id->size);
    else
        snprintf(buf, len, "model '%s' (no serial), %llu bytes", id->model, (unsigned long long)id->size);
}
