/* scoring/address.c - being written. */
