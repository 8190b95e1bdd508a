/* scoring/dmarc.h - being written. */
