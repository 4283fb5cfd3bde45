#ifndef CCUBBY_SHA256_H
#define CCUBBY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// SHA-256 (FIPS 180-4) of `prefix` followed by `data`, written to `out`.
///
/// One call, no heap, no context object: the audit log hashes millions of short inputs (a leaf is
/// 0x00 followed by an event; an inner node is 0x01 followed by two hashes), where setting up a
/// digest context would cost as much as the hashing itself. Uses the x86 SHA extensions when the
/// processor has them, portable C otherwise.
void cubby_sha256_prefixed(const uint8_t *prefix, size_t prefix_length,
                           const uint8_t *data, size_t length, uint8_t out[32]);

/// The same hash computed by the portable C code only, whatever the processor; for tests that
/// check both paths against each other on one machine.
void cubby_sha256_prefixed_portable(const uint8_t *prefix, size_t prefix_length,
                                    const uint8_t *data, size_t length, uint8_t out[32]);

/// 1 when `cubby_sha256_prefixed` uses the processor's SHA instructions, 0 when it runs portable C.
int cubby_sha256_accelerated(void);

#ifdef __cplusplus
}
#endif

#endif
