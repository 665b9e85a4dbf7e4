/* A cache of large freed CPU tensor blocks, reused for the next allocation of the same size.
 *
 * A training step allocates and frees the same activations and gradients every step. glibc
 * hands blocks past its mmap threshold (at most 32 MB) back to the kernel on free, so each
 * step the kernel maps them afresh and zeroes every page on first touch: on VGG-11/4 at 224
 * a quarter of the step was page faults and page clearing (huge pages made it worse: clearing
 * 2 MB pages). LeNet's 800 KB input batches were faulted in afresh too: glibc trims the top of
 * its heap as readily. Freed blocks of LC_CPU_CACHE_MIN bytes (glibc's initial mmap threshold)
 * and more are kept here instead, up to a cap (LUACNN_CPU_CACHE_MB, default a quarter of the
 * machine's memory, at most 4096; 0 turns the cache off); an allocation of the same byte count takes the most recently freed one.
 * When the cap would be passed, the oldest blocks are freed first. The memory a process holds
 * therefore stays at its high-water mark (at most the cap above what is live), as PyTorch's
 * CUDA caching allocator does on the GPU. Thread-safe. */
#ifndef LC_RUNTIME_CPU_BLOCK_CACHE_H
#define LC_RUNTIME_CPU_BLOCK_CACHE_H

#include <stddef.h>

#define LC_CPU_CACHE_MIN ((size_t)128 << 10)

/* A cached block of exactly nbytes, or NULL (then allocate as usual). */
void *lc_cpu_cache_take(size_t nbytes);
/* Keeps the block (1) or declines it (0: the caller frees it). p came from malloc-family
 * allocation of nbytes bytes. */
int lc_cpu_cache_give(void *p, size_t nbytes);
/* Frees every cached block (an allocation that failed retries after this). */
void lc_cpu_cache_trim(void);
/* Bytes held in the cache now. */
size_t lc_cpu_cache_bytes(void);

#endif
