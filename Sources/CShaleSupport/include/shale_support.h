#ifndef SHALE_SUPPORT_H
#define SHALE_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

/* CRC32C (Castagnoli) of `n` bytes, continuing from `crc` (0 to start).
   Uses the SSE4.2 instruction when the CPU has it, a table otherwise. */
uint32_t shl_crc32c_extend(uint32_t crc, const void *data, size_t n);

/* 1 when the hardware path is in use (for stats and tests). */
int shl_crc32c_hardware(void);

#endif
