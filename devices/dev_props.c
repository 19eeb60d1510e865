#include "devices/dev_props.h"
#include "devices/sysfs.h"

#include <errno.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dev_props_init(struct dev_props *props)
{
    memset(props, 0, sizeof(*props));
}

void dev_props_free(struct dev_props *props)
{
    for (size_t i = 0; i < props->count; i++) {
        free(props->keys[i]);
        free(props->values[i]);
    }
    free(props->keys);
    free(props->values);
    dev_props_init(props);
}

int dev_props_set(struct dev_props *props, const char *key, const char *value)
{
    for (size_t i = 0; i < props->count; i++) {
        if (strcmp(props->keys[i], key) == 0) {
            char *v = strdup(value);
            if (!v)
                return -ENOMEM;
            free(props->values[i]);
            props->values[i] = v;
            return 0;
        }
    }
    if (props->count == props->cap) {
        size_t cap = props->cap ? props->cap * 2 : 32;
        char **k = realloc(props->keys, cap * sizeof(*k));
        if (!k)
            return -ENOMEM;
        props->keys = k;
        char **v = realloc(props->values, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        props->values = v;
        props->cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    props->keys[props->count] = k;
    props->values[props->count] = v;
    props->count++;
    return 0;
}

const char *dev_props_get(const struct dev_props *props, const char *key)
{
    for (size_t i = 0; i < props->count; i++)
        if (strcmp(props->keys[i], key) == 0)
            return props->values[i][0] ? props->values[i] : NULL;
    return NULL;
}

int dev_props_load_db(struct dev_props *props, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char line[1024];
    int rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "E:", 2) != 0)
            continue;
        char *eq = strchr(line + 2, '=');
        if (!eq)
            continue;
        *eq = '\0';
        rc = dev_props_set(props, line + 2, eq + 1);
    }
    fclose(f);
    return rc;
}

int dev_props_from_udev(struct dev_props *props, struct udev_device *dev)
{
    struct udev_list_entry *e;
    udev_list_entry_foreach(e, udev_device_get_properties_list_entry(dev)) {
        const char *v = udev_list_entry_get_value(e);
        int rc = dev_props_set(props, udev_list_entry_get_name(e), v ? v : "");
        if (rc)
            return rc;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *dev_props_decode(const char *enc, char *buf, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; enc[i] && o + 1 < len; i++) {
        if (enc[i] == '\\' && enc[i + 1] == 'x' && hexval(enc[i + 2]) >= 0 && hexval(enc[i + 3]) >= 0) {
            buf[o++] = (char)(hexval(enc[i + 2]) * 16 + hexval(enc[i + 3]));
            i += 3;
        } else {
            buf[o++] = enc[i];
        }
    }
    buf[o] = '\0';
    return sysfs_trim(buf);
}
