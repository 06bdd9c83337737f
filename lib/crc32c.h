/* crc32c.h -- CRC-32C (Castagnoli), used to detect torn or corrupted state files. */
#ifndef VNET_CRC32C_H
#define VNET_CRC32C_H 1

#include <stddef.h>
#include <stdint.h>

/* Returns the CRC-32C of 'data' continuing from 'crc' (start with 0). */
uint32_t vnet_crc32c(uint32_t crc, const void *data, size_t len);

#endif
