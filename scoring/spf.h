/* scoring/spf.h - being written. */
