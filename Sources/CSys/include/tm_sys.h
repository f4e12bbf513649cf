#ifndef TOKENMILL_SYS_H
#define TOKENMILL_SYS_H

/// Starts writing the byte range to the disk without waiting for it (Linux sync_file_range
/// with SYNC_FILE_RANGE_WRITE; nothing elsewhere). Returns 0, or -1 with errno set.
int tm_start_writeback(int fd, long long offset, long long count);

#endif
