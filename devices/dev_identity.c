#include "devices/dev_identity.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum dev_bus dev_bus_detect(const char *name, const char *devpath, const struct dev_props *props)
{
    const char *id_bus = dev_props_get(props, "ID_BUS");
    const char *id_path = dev_props_get(props, "ID_PATH");
    if (strncmp(name, "loop", 4) == 0)
        return DEV_BUS_LOOP;
    if (strncmp(name, "nvme", 4) == 0 || (devpath && strstr(devpath, "/nvme")))
        return DEV_BUS_NVME;
    if ((id_bus && !strcmp(id_bus, "usb")) || (id_path && strstr(id_path, "-usb-")) ||
        (devpath && strstr(devpath, "/usb")))
        return DEV_BUS_USB;
    if (strncmp(name, "mmcblk", 6) == 0 || (devpath && strstr(devpath, "/mmc_host/")))
        return DEV_BUS_MMC;
    if (strncmp(name, "vd", 2) == 0 || (devpath && strstr(devpath, "/virtio")))
        return DEV_BUS_VIRTIO;
    if ((id_bus && !strcmp(id_bus, "ata")) || (id_path && strstr(id_path, "-ata-")) ||
        (devpath && strstr(devpath, "/ata")))
        return DEV_BUS_SATA;
    if ((id_path && strstr(id_path, "-sas-")) || (devpath && strstr(devpath, "/end_device-")))
        return DEV_BUS_SAS;
    if ((id_bus && !strcmp(id_bus, "scsi")) || strncmp(name, "sd", 2) == 0 ||
        strncmp(name, "sr", 2) == 0)
        return DEV_BUS_SCSI;
    return DEV_BUS_UNKNOWN;
}

enum dev_kind dev_kind_classify(enum dev_bus bus, bool rotational, bool is_optical)
{
    if (is_optical)
        return DEV_KIND_OPTICAL;
    switch (bus) {
    case DEV_BUS_LOOP:   return DEV_KIND_LOOP;
    case DEV_BUS_NVME:   return DEV_KIND_NVME;
    case DEV_BUS_USB:    return DEV_KIND_USB;
    case DEV_BUS_MMC:    return DEV_KIND_SD;
    case DEV_BUS_VIRTIO: return DEV_KIND_VIRTUAL;
    default:             return rotational ? DEV_KIND_HDD : DEV_KIND_SSD;
    }
}

/* A udev property (preferring its unescaped _ENC twin), else "". */
static void prop_text(const struct dev_props *props, const char *key, char *buf, size_t len)
{
    char enc_key[64];
    snprintf(enc_key, sizeof(enc_key), "%s_ENC", key);
    const char *v = dev_props_get(props, enc_key);
    if (v) {
        dev_props_decode(v, buf, len);
        return;
    }
    v = dev_props_get(props, key);
    snprintf(buf, len, "%s", v ? v : "");
    /* udev writes blanks in ID_MODEL as underscores. */
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = ' ';
    sysfs_trim(buf);
}

/* sysfs device/vendor holds junk for some buses: "ATA" padding, PCI ids. */
static bool vendor_is_meaningful(const char *v)
{
    return *v && strcmp(v, "ATA") != 0 && strncmp(v, "0x", 2) != 0;
}

/* SCSI VPD page 0x80 (unit serial number): 4-byte header, then ASCII. */
static void serial_from_vpd80(const struct sysfs_ctx *ctx, const char *name, char *buf, size_t len)
{
    unsigned char page[256];
    long n = sysfs_read_raw(ctx, page, sizeof(page), "sys/block/%s/device/vpd_pg80", name);
    if (n <= 4)
        return;
    size_t plen = ((size_t)page[2] << 8) | page[3];
    if (plen > (size_t)n - 4)
        plen = (size_t)n - 4;
    size_t o = 0;
    for (size_t i = 0; i < plen && o + 1 < len; i++)
        if (isprint(page[4 + i]))
            buf[o++] = (char)page[4 + i];
    buf[o] = '\0';
    sysfs_trim(buf);
}

static void fill_names(const struct sysfs_ctx *ctx, const char *name,
                       const struct dev_props *props, struct dev_drive *d)
{
    prop_text(props, "ID_MODEL", d->model, sizeof(d->model));
    if (!d->model[0])
        sysfs_read_str(ctx, d->model, sizeof(d->model), "sys/block/%s/device/model", name);
    if (!d->model[0])   /* MMC cards name themselves in device/name */
        sysfs_read_str(ctx, d->model, sizeof(d->model), "sys/block/%s/device/name", name);

    prop_text(props, "ID_VENDOR", d->vendor, sizeof(d->vendor));
    if (!d->vendor[0]) {
        char v[64] = "";
        sysfs_read_str(ctx, v, sizeof(v), "sys/block/%s/device/vendor", name);
        if (vendor_is_meaningful(v))
            snprintf(d->vendor, sizeof(d->vendor), "%s", v);
    }

    const char *serial = dev_props_get(props, "ID_SERIAL_SHORT");
    if (serial)
        snprintf(d->serial, sizeof(d->serial), "%s", serial);
    if (!d->serial[0])      /* virtio */
        sysfs_read_str(ctx, d->serial, sizeof(d->serial), "sys/block/%s/serial", name);
    if (!d->serial[0])      /* nvme controller, mmc card */
        sysfs_read_str(ctx, d->serial, sizeof(d->serial), "sys/block/%s/device/serial", name);
    if (!d->serial[0])      /* SCSI, SATA behind libata, USB mass storage */
        serial_from_vpd80(ctx, name, d->serial, sizeof(d->serial));

    const char *wwn = dev_props_get(props, "ID_WWN_WITH_EXTENSION");
    if (!wwn)
        wwn = dev_props_get(props, "ID_WWN");
    if (wwn)
        snprintf(d->wwn, sizeof(d->wwn), "%s", wwn);
    if (!d->wwn[0])
        sysfs_read_str(ctx, d->wwn, sizeof(d->wwn), "sys/block/%s/wwid", name);
    if (!d->wwn[0])
        sysfs_read_str(ctx, d->wwn, sizeof(d->wwn), "sys/block/%s/device/wwid", name);
}

static void fill_optical(const struct dev_props *props, struct dev_drive *d)
{
    d->is_optical = dev_props_get(props, "ID_CDROM") != NULL || strncmp(d->name, "sr", 2) == 0;
    if (!d->is_optical)
        return;
    struct dev_optical *o = &d->optical;
    const char *media = dev_props_get(props, "ID_CDROM_MEDIA");
    /* udev's cdrom_id sets ID_CDROM_MEDIA only while a disc is in; without udev
     * (no ID_CDROM either) the kernel's capacity is the only sign of a disc. */
    if (media)
        o->media = strcmp(media, "1") == 0;
    else
        o->media = dev_props_get(props, "ID_CDROM") == NULL && d->size > 0;
    const char *state = dev_props_get(props, "ID_CDROM_MEDIA_STATE");
    o->blank = state && strcmp(state, "blank") == 0;
    const char *t;
    if ((t = dev_props_get(props, "ID_CDROM_MEDIA_TRACK_COUNT_DATA")))
        o->data_tracks = (unsigned)strtoul(t, NULL, 10);
    if ((t = dev_props_get(props, "ID_CDROM_MEDIA_TRACK_COUNT_AUDIO")))
        o->audio_tracks = (unsigned)strtoul(t, NULL, 10);
    /* udev sets ID_CDROM_MEDIA_<TYPE>=1 for the disc in the drive. */
    static const char *const types[] = {
        "BD_RE", "BD_R", "BD", "DVD_PLUS_RW_DL", "DVD_PLUS_R_DL", "DVD_PLUS_RW", "DVD_PLUS_R",
        "DVD_RW", "DVD_RAM", "DVD_R", "DVD", "CD_RW", "CD_R", "CD",
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char key[64];
        snprintf(key, sizeof(key), "ID_CDROM_MEDIA_%s", types[i]);
        const char *v = dev_props_get(props, key);
        if (v && strcmp(v, "1") == 0) {
            size_t j = 0;
            for (; types[i][j] && j + 1 < sizeof(o->media_type); j++)
                o->media_type[j] = (char)tolower((unsigned char)types[i][j]);
            o->media_type[j] = '\0';
            o->media = true;
            break;
        }
    }
}

int dev_identity_fill(const struct sysfs_ctx *ctx, const char *name,
                      const struct dev_props *props, struct dev_drive *d)
{
    uint64_t v = 0;
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->path, sizeof(d->path), "/dev/%s", name);
    const char *devname = dev_props_get(props, "DEVNAME");
    if (devname && devname[0] == '/')
        snprintf(d->path, sizeof(d->path), "%s", devname);

    char dev[32];
    if (sysfs_read_str(ctx, dev, sizeof(dev), "sys/block/%s/dev", name) == 0)
        sscanf(dev, "%u:%u", &d->major, &d->minor);
    if (sysfs_read_u64(ctx, &v, "sys/block/%s/size", name))
        return -ENOENT;
    d->size = v * 512;      /* sysfs counts 512-byte units whatever the sector size */
    if (sysfs_read_u64(ctx, &v, "sys/block/%s/diskseq", name) == 0)
        d->diskseq = v;
    d->logical_sector = sysfs_read_u64(ctx, &v, "sys/block/%s/queue/logical_block_size", name) ? 512 : (unsigned)v;
    d->physical_sector = sysfs_read_u64(ctx, &v, "sys/block/%s/queue/physical_block_size", name)
                             ? d->logical_sector : (unsigned)v;
    d->rotational = sysfs_read_u64(ctx, &v, "sys/block/%s/queue/rotational", name) == 0 && v;
    d->removable = sysfs_read_u64(ctx, &v, "sys/block/%s/removable", name) == 0 && v;
    d->readonly = sysfs_read_u64(ctx, &v, "sys/block/%s/ro", name) == 0 && v;
    if (strncmp(name, "loop", 4) == 0)
        sysfs_read_str(ctx, d->backing_file, sizeof(d->backing_file), "sys/block/%s/loop/backing_file", name);

    char devpath[512] = "";
    sysfs_block_devpath(ctx, name, devpath, sizeof(devpath));
    d->bus = dev_bus_detect(name, devpath, props);
    fill_names(ctx, name, props, d);
    fill_optical(props, d);
    d->kind = dev_kind_classify(d->bus, d->rotational, d->is_optical);
    return 0;
}
