/* session: what the station did since it started, for the end of the day.
 *
 * Jobs ended, drives verified and drives failed (with model and serial, the
 * way a technician matches them to the customer's label), kept as the jobs
 * end and saved on quit beside the reports as text and JSON. */
#ifndef CB_SESSION_H
#define CB_SESSION_H

#include "common/cb_error.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define SESSION_MAX_DRIVES 256

struct session_drive {
    int job_id;
    bool verified;                  /* false: failed */
    char path[64], model[64], serial[64];
    char why[240];                  /* why it failed, "" when verified */
};

struct session {
    time_t started;
    int jobs_ended, jobs_verified, jobs_failed, jobs_cancelled;
    struct session_drive drives[SESSION_MAX_DRIVES];
    size_t ndrives;
    int drives_verified, drives_failed;
};

struct qjob;
void session_start(struct session *s);
/* A job that ended (from jq_take_ended): its targets, verified or failed. */
void session_add_job(struct session *s, const struct qjob *j);
/* Jobs cancelled on the way out, which are never handed out one by one. */
void session_add_cancelled(struct session *s, int n);
void session_write_text(const struct session *s, FILE *f);
/* Save DIR/session-STAMP.txt and .json, both created new; the text's path in
 * txt_path. 0 or -errno with err filled. */
int session_save(const struct session *s, const char *dir, char *txt_path, size_t len, struct cb_error *err);

#endif
