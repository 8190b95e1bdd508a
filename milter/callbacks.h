/*
 * callbacks.h - register the libmilter callbacks (callbacks.c).
 */
#ifndef HM_CALLBACKS_H
#define HM_CALLBACKS_H

/* smfi_register() with every callback of the milter.  0 or -1. */
int hm_callbacks_register(void);

/* From now on, new transactions are answered 451 (a stop is under way). */
void hm_callbacks_stopping(void);

#endif
