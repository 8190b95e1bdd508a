/* scoring/dkim.h - being written. */
