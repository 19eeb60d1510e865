/* station_browse: the "Browse image" screen's state, shared by its keys
 * (station_browse.c) and its drawing (station_browse_draw.c). */
#ifndef CB_UI_STATION_BROWSE_H
#define CB_UI_STATION_BROWSE_H

#include "jobs/image_browse.h"
#include "jobs/image_mount.h"
#include "ui/station.h"

#include <sys/types.h>

#define MAX_STUCK 8     /* mounts that would not go, helpers to reap */

enum bv_step { BV_IMAGES, BV_PARTS, BV_FILES };

struct browse_view {
    enum bv_step step;
    char folder[4096];                  /* the store whose images are listed */
    bool folder_volatile;               /* in RAM (the live ISO's /): copies are lost at power-off */
    char (*images)[BROWSE_NAME_MAX];
    size_t nimages;
    int cursor, top;                    /* in the list shown */
    char image[4400];                   /* the one opened */
    char dir[64];                       /* where it is mounted, "" when it is not */
    struct image_mount m;
    int part;                           /* m.parts index whose files are listed */
    char rel[4096];                     /* the folder listed, inside the partition ("" its root) */
    struct browse_entry *entries;
    size_t nentries;
    struct browse_pick *picks;          /* marked, in any folder of any partition */
    size_t npicks;
    struct browse_open *opening;        /* image_mount running for image, on dir */
    struct browse_copy *copy;           /* running */
    char dest[4300];
    char **report;                      /* the last copy: its summary, then each file that failed */
    size_t nreport;
    bool report_bad;
    char stuck[MAX_STUCK][64];          /* mounts that would not go: tried again at quit */
    int nstuck;
    pid_t reap[MAX_STUCK];              /* helpers forked by this station, to be waited for once they end */
    int nreap;
};

/* Rows in the list the step shows. */
int bv_count(const struct browse_view *b);
/* "#2    47.0 MiB  ext4   DATA": a partition in words. */
const char *bv_part_words(const struct mounted_part *p, char *buf, size_t len);
/* An entry's path inside the partition listed. */
void bv_entry_rel(const struct browse_view *b, const struct browse_entry *e, char *out, size_t len);
/* Whether rel, in the partition listed, is marked. */
bool bv_marked(const struct browse_view *b, const char *rel);

#endif
