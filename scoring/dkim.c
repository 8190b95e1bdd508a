/* scoring/dkim.c - being written. */
