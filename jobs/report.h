/* report: what a job did, for the technician and for the customer's file.
 *
 * The same facts as text (printed at the end of a job) and JSON (--report
 * FILE): tool version, times, identities, bytes, rate, hashes of the source
 * stream and of every target's read-back, bad sectors, map, outcome. */
#ifndef CB_REPORT_H
#define CB_REPORT_H

#include "jobs/job.h"

#include <stdio.h>

void report_write_text(const struct job *job, const char *version, FILE *f);
void report_write_json(const struct job *job, const char *version, FILE *f);
/* The "damaged" section alone (what the bad sectors hit), for `clonebay info`. */
struct json_writer;
void report_damaged_text(const struct fs_owner_list *l, FILE *f);
void report_damaged_json(const struct fs_owner_list *l, struct json_writer *w);
/* Write the JSON report to path atomically. 0 or -errno (err filled). */
int report_save_json(const struct job *job, const char *version, const char *path, struct cb_error *err);

#endif
