// System calls that Swift's Glibc module does not expose (they need _GNU_SOURCE).
#define _GNU_SOURCE
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "tm_sys.h"

int tm_start_writeback(int fd, long long offset, long long count) {
#ifdef __linux__
    return sync_file_range(fd, (off64_t)offset, (off64_t)count, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)count;
    return 0;
#endif
}

int tm_set_mmap_threshold(long bytes) {
#ifdef __GLIBC__
    return mallopt(M_MMAP_THRESHOLD, (int)bytes);
#else
    (void)bytes;
    return 0;
#endif
}
