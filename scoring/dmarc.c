/* scoring/dmarc.c - being written. */
