/* scoring/spf.c - being written. */
