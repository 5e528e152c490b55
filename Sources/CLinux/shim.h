/* Linux calls that Swift's Glibc module hides behind _GNU_SOURCE. Declared here rather than
   included: <fcntl.h> is already a module of its own, built without _GNU_SOURCE. */
#ifndef STOWAGE_CLINUX_H
#define STOWAGE_CLINUX_H

/* fallocate(2); mode 1 is FALLOC_FL_KEEP_SIZE. off_t is long on every 64-bit Linux. */
extern int fallocate(int fd, int mode, long offset, long len);

/* malloc_trim(3), from <malloc.h>, which Swift's Glibc module leaves out. size_t is unsigned long. */
extern int malloc_trim(unsigned long pad);

/* mallinfo2(3), from <malloc.h> too: what the heap has handed out, whatever of it is resident. */
struct stowage_mallinfo2 {
    unsigned long arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
extern struct stowage_mallinfo2 mallinfo2(void);

/* sync_file_range(2), with its flags: start a range's writeback, or wait for it. */
extern int sync_file_range(int fd, long offset, long nbytes, unsigned int flags);
#define STOWAGE_SYNC_FILE_RANGE_WAIT_BEFORE 1
#define STOWAGE_SYNC_FILE_RANGE_WRITE 2
#define STOWAGE_SYNC_FILE_RANGE_WAIT_AFTER 4

#endif
