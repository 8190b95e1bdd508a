/* scoring/address.h - being written. */
