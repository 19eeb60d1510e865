/* gpt_fix: after a GPT disk is copied onto a larger target, move the backup
 * header and entries to the target's real last sectors, extend the last usable
 * LBA, and resize the protective MBR, so `sgdisk -v` is clean on the target
 * (what `sgdisk -e` does). The source is never touched. */
#ifndef CB_GPT_FIX_H
#define CB_GPT_FIX_H

#include "clone/io.h"
#include "common/cb_error.h"

#include <stddef.h>
#include <stdint.h>

/* 1 when a GPT was relocated, 0 when there is no GPT or nothing to do, -errno. */
int gpt_relocate_backup(struct io_dev *target, struct cb_error *err);

/* CRC-32 (IEEE 802.3), as GPT uses it. */
uint32_t gpt_crc32(const void *data, size_t len);

#endif
