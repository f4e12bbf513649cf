#ifndef TOKENMILL_SYS_H
#define TOKENMILL_SYS_H

/// Starts writing the byte range to the disk without waiting for it (Linux sync_file_range
/// with SYNC_FILE_RANGE_WRITE; nothing elsewhere). Returns 0, or -1 with errno set.
int tm_start_writeback(int fd, long long offset, long long count);

/// Makes malloc serve every block of `bytes` or more with its own mapping, given back to the
/// system when freed (glibc mallopt M_MMAP_THRESHOLD; fixing it also stops glibc from raising
/// the threshold to the largest block freed so far). Returns 1 when set, 0 where not supported.
int tm_set_mmap_threshold(long bytes);

#endif
