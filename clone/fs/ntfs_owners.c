/* fs_owners for NTFS, through libntfs-3g (as ntfscluster does): every base
 * MFT record in use, each non-resident attribute's runlist against the bad
 * clusters; the names of the records hit from their $FILE_NAME attributes
 * (one per hard link), their folders followed up to the root. The system
 * files ($MFT, $LogFile, $Bitmap, ...) are metadata. */
#include "clone/fs/owners_part.h"
#include "clone/fs/ntfs.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* libntfs-3g's headers expect its config.h; these say what it would. */
#define HAVE_STDINT_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_STAT_H 1
#include <ntfs-3g/volume.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/mft.h>
#include <ntfs-3g/runlist.h>
#include <ntfs-3g/unistr.h>

struct ntfs_walk {
    struct owners_part *p;
    ntfs_volume *vol;
    struct bad_units b;
    unsigned char *dir_seen;    /* folders walked, one bit per record: a damaged index may loop */
    s64 nrec;
    /* The folder last named: files hit are often neighbours. */
    u64 cached_dir;
    char cached_path[4096];
};

static bool ntfs_free(void *ctx, uint64_t lcn)
{
    struct ntfs_walk *w = ctx;
    unsigned char byte;
    if (ntfs_attr_pread(w->vol->lcnbmp_na, (s64)(lcn / 8), 1, &byte) != 1)
        return false;
    return !(byte >> (lcn % 8) & 1);
}

/* The unreadable bytes in the clusters of every non-resident attribute of ni. */
static uint64_t inode_bytes(struct ntfs_walk *w, ntfs_inode *ni)
{
    uint64_t bytes = 0;
    bad_units_next_owner(&w->b);
    ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
    while (ctx && !ntfs_attrs_walk(ctx)) {
        if (!ctx->attr->non_resident)
            continue;
        runlist_element *rl = ntfs_mapping_pairs_decompress(w->vol, ctx->attr, NULL);
        for (runlist_element *r = rl; r && r->length; r++)
            if (r->lcn >= 0 && r->length > 0)
                bytes += bad_units_claim(w->p, &w->b, (uint64_t)r->lcn, (uint64_t)r->length);
        free(rl);
    }
    if (ctx)
        ntfs_attr_put_search_ctx(ctx);
    return bytes;
}

/* The next $FILE_NAME of the search that is not a DOS 8.3 alias. */
static FILE_NAME_ATTR *next_name(ntfs_attr_search_ctx *ctx)
{
    while (!ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL, 0, ctx)) {
        if (ctx->attr->non_resident)
            continue;
        FILE_NAME_ATTR *fn = (FILE_NAME_ATTR *)((u8 *)ctx->attr + le16_to_cpu(ctx->attr->value_offset));
        if (fn->file_name_type != FILE_NAME_DOS)
            return fn;
    }
    return NULL;
}

static void name_of(const FILE_NAME_ATTR *fn, char *out, size_t len)
{
    char *s = NULL;
    ntfschar u[256];        /* the attribute is packed: the name is copied out, aligned */
    memcpy(u, (const u8 *)fn + offsetof(FILE_NAME_ATTR, file_name), (size_t)fn->file_name_length * sizeof(u[0]));
    if (ntfs_ucstombs(u, fn->file_name_length, &s, 0) < 0 || !s)
        snprintf(out, len, "?");
    else
        snprintf(out, len, "%s", s);
    free(s);
}

/* The path of folder dir ("" for the root). false when it cannot be followed. */
static bool dir_path(struct ntfs_walk *w, u64 dir, char *out, size_t len)
{
    if (dir == w->cached_dir) {
        snprintf(out, len, "%s", w->cached_path);
        return true;
    }
    char tail[4096] = "";
    u64 at = dir;
    for (int depth = 0; at != FILE_root; depth++) {
        ntfs_inode *ni = depth < 64 ? ntfs_inode_open(w->vol, at) : NULL;
        ntfs_attr_search_ctx *ctx = ni ? ntfs_attr_get_search_ctx(ni, NULL) : NULL;
        FILE_NAME_ATTR *fn = ctx ? next_name(ctx) : NULL;
        char name[1024], next[4096];
        if (fn) {
            name_of(fn, name, sizeof(name));
            snprintf(next, sizeof(next), "/%s%s", name, tail);
            memcpy(tail, next, sizeof(tail));
            at = MREF_LE(fn->parent_directory);
        }
        if (ctx)
            ntfs_attr_put_search_ctx(ctx);
        if (ni)
            ntfs_inode_close(ni);
        if (!fn)
            return false;
    }
    w->cached_dir = dir;
    snprintf(w->cached_path, sizeof(w->cached_path), "%s", tail);
    snprintf(out, len, "%s", tail);
    return true;
}

static const char *system_file(u64 mref)
{
    static const char *const names[16] = {
        "$MFT (the file table)", "$MFTMirr (copy of the file table's first records)", "$LogFile (the journal)",
        "$Volume", "$AttrDef", NULL, "$Bitmap (the cluster bitmap)", "$Boot (the boot sector)",
        "$BadClus", "$Secure (the security descriptors)", "$UpCase", "$Extend",
        "reserved system record", "reserved system record", "reserved system record", "reserved system record",
    };
    return mref < 16 ? names[mref] : NULL;
}

/* Every name of a record hit: each $FILE_NAME but the DOS aliases. */
static void name_hit(struct ntfs_walk *w, ntfs_inode *ni, u64 mref, uint64_t bytes)
{
    if (mref == FILE_root) {
        owners_add(w->p, FS_OWNER_FILE, bytes, "/ (the root directory)");
        return;
    }
    int names = 0;
    ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
    for (FILE_NAME_ATTR *fn; ctx && (fn = next_name(ctx)) != NULL;) {
        char name[1024], dir[4096];
        name_of(fn, name, sizeof(name));
        names++;
        if (dir_path(w, MREF_LE(fn->parent_directory), dir, sizeof(dir)))
            owners_add(w->p, FS_OWNER_FILE, bytes, "%s/%s", dir, name);
        else
            owners_add(w->p, FS_OWNER_UNRESOLVED, bytes, "a file named \"%s\" whose folder could not be found "
                       "(record %llu)", name, (unsigned long long)mref);
    }
    if (ctx)
        ntfs_attr_put_search_ctx(ctx);
    if (!names)
        owners_add(w->p, FS_OWNER_UNRESOLVED, bytes, "a file whose name could not be read (record %llu)",
                   (unsigned long long)mref);
}

/* Unreadable bytes of file record mref, wherever $MFT's clusters put it. */
static uint64_t record_bad(struct ntfs_walk *w, u64 mref)
{
    uint64_t rs = w->vol->mft_record_size, cs = w->vol->cluster_size, at = mref * rs, bytes = 0;
    for (uint64_t o = at; o < at + rs;) {
        uint64_t in = o % cs, n = cs - in < at + rs - o ? cs - in : at + rs - o;
        LCN lcn = ntfs_attr_vcn_to_lcn(w->vol->mft_na, (VCN)(o / cs));
        if (lcn >= 0)
            bytes += owners_bad_in(w->p, (uint64_t)lcn * cs + in, n);
        o += n;
    }
    return bytes;
}

struct subdir {
    u64 mref;
    char *path;
};

struct listing {
    struct ntfs_walk *w;
    const char *path;
    struct subdir *dirs;
    size_t n, cap;
};

/* One entry of a folder's index: named when its own record is unreadable. */
static int list_entry(void *ctx, const ntfschar *name, const int name_len, const int name_type, const s64 pos,
                      const MFT_REF mref, const unsigned dt_type)
{
    (void)pos;
    struct listing *l = ctx;
    u64 ref = MREF(mref);
    if (name_type == FILE_NAME_DOS || ref < FILE_first_user)
        return 0;       /* 8.3 aliases, ".", "..", and the system files, named as metadata */
    char *s = NULL, path[4096];
    if (ntfs_ucstombs(name, name_len, &s, 0) < 0 || !s)
        return 0;
    snprintf(path, sizeof(path), "%s/%s", l->path, s);
    free(s);
    uint64_t lost = record_bad(l->w, ref);
    if (lost)
        owners_add_why(l->w->p, FS_OWNER_FILE, lost, dt_type == NTFS_DT_DIR
                       ? "its file record, which says where its list of files lies, is unreadable: the folder's "
                         "whole list is lost, and the files in it are not named here"
                       : "its file record, which says where its data lies, is unreadable: the whole file is lost",
                       "%s", path);
    else if (dt_type == NTFS_DT_DIR && (s64)ref < l->w->nrec) {
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            struct subdir *d = realloc(l->dirs, cap * sizeof(*d));
            if (!d)
                return -1;
            l->dirs = d;
            l->cap = cap;
        }
        if ((l->dirs[l->n].path = strdup(path)) != NULL)
            l->dirs[l->n++].mref = ref;
    }
    return 0;
}

/* The folder tree from dir, for the files whose own records were lost: only
 * the folders' indexes still name them. Each folder once. */
static void walk_folders(struct ntfs_walk *w, u64 dir, const char *path)
{
    if (w->dir_seen[dir / 8] >> (dir % 8) & 1)
        return;
    w->dir_seen[dir / 8] |= (unsigned char)(1 << (dir % 8));
    ntfs_inode *ni = ntfs_inode_open(w->vol, dir);
    if (!ni)
        return;
    struct listing l = { .w = w, .path = path };
    s64 pos = 0;
    ntfs_readdir(ni, &pos, &l, list_entry);
    ntfs_inode_close(ni);
    for (size_t i = 0; i < l.n; i++) {
        walk_folders(w, l.dirs[i].mref, l.dirs[i].path);
        free(l.dirs[i].path);
    }
    free(l.dirs);
}

static void ntfs_records(struct ntfs_walk *w, unsigned *damaged)
{
    ntfs_volume *vol = w->vol;
    s64 nrec = vol->mft_na->initialized_size >> vol->mft_record_size_bits;
    MFT_RECORD *rec = malloc(vol->mft_record_size);
    bool mft_hit = false;
    for (s64 mref = 0; rec && mref < nrec; mref++) {
        if (ntfs_mft_record_read(vol, (MFT_REF)mref, rec)) {
            (*damaged)++;
            continue;
        }
        /* Extension records are walked from their base record's attribute list. */
        if (!(rec->flags & MFT_RECORD_IN_USE) || rec->base_mft_record)
            continue;
        ntfs_inode *ni = ntfs_inode_open(vol, (MFT_REF)mref);
        if (!ni) {
            (*damaged)++;
            continue;
        }
        uint64_t bytes = inode_bytes(w, ni);
        if (mref == FILE_MFT)
            mft_hit = bytes > 0;
        if (bytes && system_file((u64)mref))
            owners_add(w->p, FS_OWNER_METADATA, bytes, "%s", system_file((u64)mref));
        else if (bytes)
            name_hit(w, ni, (u64)mref, bytes);
        ntfs_inode_close(ni);
    }
    if (!rec)
        w->p->rc = -ENOMEM;
    free(rec);
    /* File records in unreadable sectors: the folders' indexes still know whose they were. */
    w->nrec = nrec;
    w->dir_seen = mft_hit ? calloc((size_t)nrec / 8 + 1, 1) : NULL;
    if (w->dir_seen)
        walk_folders(w, FILE_root, "");
    free(w->dir_seen);
}

int fs_owners_ntfs(struct owners_part *p)
{
    char why[512];
    struct fs_ntfs_vol *v = fs_ntfs_open(p->rd, p->rctx, p->name, p->off, p->size, why, sizeof(why));
    if (!v) {
        owners_add(p, FS_OWNER_UNRESOLVED, owners_bad_in(p, 0, p->size), "could not be resolved: %s", why);
        return 1;
    }
    struct ntfs_walk w = { .p = p, .vol = fs_ntfs_volume(v), .cached_dir = (u64)-1 };
    uint64_t csize = w.vol->cluster_size, end = (uint64_t)w.vol->nr_clusters * csize;
    if (end > p->size)
        end = p->size;
    /* Past the last cluster, in the partition's last sector: the backup boot sector. */
    owners_add(p, FS_OWNER_METADATA, owners_bad_in(p, end, p->size - end), "backup boot sector");
    if (bad_units_build(&w.b, p, 0, csize, end / csize)) {
        p->rc = -ENOMEM;
    } else {
        unsigned damaged = 0;
        ntfs_records(&w, &damaged);
        snprintf(why, sizeof(why), "could not be resolved: in use, but no file was found that owns it%s",
                 damaged ? " (some file records in $MFT are damaged or unreadable)" : "");
        bad_units_rest(p, &w.b, ntfs_free, &w, why);
    }
    bad_units_free(&w.b);
    fs_ntfs_close(v);
    return 1;
}

bool ntfs_sniff(const struct owners_part *p, char *fstype, size_t len)
{
    unsigned char b[11];
    if (owners_read(p, b, sizeof(b), 0) || memcmp(b + 3, "NTFS    ", 8))
        return false;
    snprintf(fstype, len, "ntfs");
    return true;
}
