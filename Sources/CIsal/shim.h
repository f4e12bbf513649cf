#ifndef TOKENMILL_CISAL_SHIM_H
#define TOKENMILL_CISAL_SHIM_H
/* Intel ISA-L (Debian: libisal-dev): igzip's inflate, 2.5-3x zlib's speed on gzip input, and
   its CRC-32 (the same function as zlib's crc32, with carry-less multiplication). */
#include <isa-l/igzip_lib.h>
#include <isa-l/crc.h>
#endif
