/* Linux swap: only its first page is kept, the header with the UUID and label
 * that is all a swap area holds across a reboot (what mkswap would write);
 * any size, re-created by mkswap with the same UUID and label. */
#include "clone/fs/fs.h"

#include <errno.h>
#include <string.h>

static bool swap_probe(const char *fstype)
{
    return !strcmp(fstype, "swap");
}

static int swap_used(const char *path, uint64_t off, uint64_t size, struct block_map *domain, char *why,
                     size_t why_len)
{
    (void)path, (void)why, (void)why_len;
    return map_mark(domain, off, size < 4096 ? size : 4096, MAP_FINISHED) ? -ENOMEM : 1;
}

static int swap_min(const char *path, uint64_t off, uint64_t size, const char *node, uint64_t *min)
{
    (void)path, (void)off, (void)size, (void)node;
    *min = 1u << 20;        /* only its header matters */
    return 0;
}

static int swap_resize(const char *node, uint64_t new_size, const char *uuid, const char *label, char *log,
                       size_t log_len, struct cb_error *err)
{
    (void)new_size;     /* mkswap fills the partition */
    const char *with_label[] = { "mkswap", "-U", uuid, "-L", label, node, NULL };
    const char *without[] = { "mkswap", "-U", uuid, node, NULL };
    return fs_run_step(label[0] ? with_label : without, node, 0, log, log_len, err);
}

const struct fs_ops fs_swap_ops = {
    .name = "swap", .probe = swap_probe, .magic = { 4086, "SWAPSPACE2" }, .used = swap_used,
    .min_size = swap_min, .resize = swap_resize, .recreated = true,
    .holds_no_files = "swap space (no files are kept there)",
};
