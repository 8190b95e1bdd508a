/*
 * clsmodel.h - the daemon's copy of the content model: one slot per
 * process, kept fresh by a background thread (policy/model.h) that reads
 * the running configuration at every tick, so a reload that changes the
 * Redis settings moves it to the new server, and one that does not keeps
 * the model as it is.
 */
#ifndef HM_CLSMODEL_H
#define HM_CLSMODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/model.h"
#include "scoring/classifier.h"

/* The process's slot: what every message reads the model from. */
struct hm_cls_slot *hm_clsmodel_slot(void);

/*
 * Start the refresher (after the fork and the privilege drop; the running
 * configuration must be published).  0, or -1 with the reason in err.
 */
int hm_clsmodel_start(char *err, size_t errlen);

/* Stop it (at exit); the slot keeps its model. */
void hm_clsmodel_stop(void);

/* The refresher's counters (for the metrics); false when it is not running. */
bool hm_clsmodel_stats(struct hm_model_refresher_stats *st);

#endif
