/* station_wizard: what the wizard's state (station_wizard.c) offers its
 * steps' keys (station_wizard_keys.c). */
#ifndef CB_UI_STATION_WIZARD_H
#define CB_UI_STATION_WIZARD_H

#include "ui/station.h"

/* The wizard lets go of its preview: joined now when it is done, else later. */
void wizard_retire_preview(struct station *st);
/* Options done: to the confirmation, each target's plan worked out meanwhile. */
void wizard_enter_confirm(struct station *st);
/* Y on the confirmation: the job is queued, or the refusal shown where Y was pressed. */
void wizard_submit(struct station *st);

#endif
