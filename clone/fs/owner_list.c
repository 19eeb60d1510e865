#include "clone/fs/owner_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fs_owner_kind_name(enum fs_owner_kind k)
{
    static const char *const names[] = {
        [FS_OWNER_METADATA] = "metadata", [FS_OWNER_FILE] = "file", [FS_OWNER_UNRESOLVED] = "unresolved",
        [FS_OWNER_FREE] = "free", [FS_OWNER_OUTSIDE] = "outside",
    };
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* ---- the list: one entry per owner, found again through a hash index ---- */

static uint64_t key_hash(int part, enum fs_owner_kind kind, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(unsigned)part ^ ((uint64_t)kind << 32);
    for (const unsigned char *s = (const unsigned char *)name; *s; s++)
        h = (h ^ *s) * 0x100000001b3ull;
    return h;
}

static int list_grow(struct fs_owner_list *l)
{
    size_t cap = l->cap ? l->cap * 2 : 64;
    struct fs_owner *v = realloc(l->v, cap * sizeof(*v));
    size_t *slots = calloc(cap * 2, sizeof(*slots));
    if (!v || !slots) {
        if (v)
            l->v = v;
        free(slots);
        return -ENOMEM;
    }
    l->v = v;
    l->cap = cap;
    free(l->slots);
    l->slots = slots;
    l->nslots = cap * 2;
    for (size_t i = 0; i < l->count; i++) {
        size_t s = key_hash(v[i].partition, v[i].kind, v[i].name) % l->nslots;
        while (slots[s])
            s = (s + 1) % l->nslots;
        slots[s] = i + 1;
    }
    return 0;
}

int fs_owner_list_add(struct fs_owner_list *l, int part, const char *fstype, enum fs_owner_kind kind,
                      const char *name, uint64_t bytes, const char *why)
{
    if (l->count == l->cap && list_grow(l))
        return -ENOMEM;
    size_t s = key_hash(part, kind, name) % l->nslots;
    for (; l->slots[s]; s = (s + 1) % l->nslots) {
        struct fs_owner *o = &l->v[l->slots[s] - 1];
        if (o->partition == part && o->kind == kind && !strcmp(o->name, name)) {
            o->bytes += bytes;
            if (!o->why)
                o->why = why;
            return 0;
        }
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    struct fs_owner *o = &l->v[l->count];
    *o = (struct fs_owner){ .kind = kind, .partition = part, .name = copy, .bytes = bytes, .why = why };
    snprintf(o->fstype, sizeof(o->fstype), "%s", fstype);
    l->slots[s] = ++l->count;
    return 0;
}

static int owner_cmp(const void *a, const void *b)
{
    const struct fs_owner *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->name, y->name);
}

void fs_owners_free(struct fs_owner_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->v[i].name);
    free(l->v);
    free(l->slots);
    *l = (struct fs_owner_list){ 0 };
}

void fs_owner_list_finish(struct fs_owner_list *l)
{
    free(l->slots);
    l->slots = NULL;
    l->nslots = 0;
    if (l->count)
        qsort(l->v, l->count, sizeof(l->v[0]), owner_cmp);
}
