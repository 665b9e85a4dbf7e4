/* Finding byte-identical files: a 64-bit content hash per file (read by a few threads), then
 * files whose hash and size agree are compared byte for byte, so a hash collision never
 * merges two different files. */
#ifndef LC_DEDUP_H
#define LC_DEDUP_H

#include <stddef.h>
#include <stdint.h>

/* A 64-bit hash of n bytes: 8-byte words folded in with 64x64->128-bit multiplies. */
uint64_t lc_hash64(const void *data, size_t n, uint64_t seed);

/* For each of the n files, group[i] = the smallest index j whose file holds exactly the same
 * bytes (j == i for the first of a group or a unique file). A file that cannot be read is
 * its own group and gets unreadable[i] = 1 (unreadable may be NULL). threads <= 0: 2.
 * 0 ok; -1 (out of memory) with a message in err. */
int lc_dedup_files(const char *const *paths, int64_t n, int threads, int64_t *group,
                   uint8_t *unreadable, char *err, size_t errlen);

#endif
