/* The code paths the libFuzzer harnesses of tests/fuzz exercise, one function
 * each, so that tests/test_fuzz_regressions.c replays saved inputs through
 * exactly what the fuzzers ran. Each function abort()s (after printing why)
 * when an invariant of the code under test breaks, and returns 0 otherwise. */
#ifndef SPANTAP_FUZZ_TARGETS_H
#define SPANTAP_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* spantap_record_parse on DATA as one line, then on each of its lines. */
int spantap_fuzz_stream_parse(const uint8_t *data, size_t size);

/* DATA through a collector (no symbolizer, not live) in pseudo-random chunks,
 * then spantap_collector_finish, into a fresh store in a temporary file that
 * is created once per process and removed at exit. */
int spantap_fuzz_collector(const uint8_t *data, size_t size);

/* The queue decoder (collector/queue_decode.h) on a queue and passes that
 * DATA describes (tests/fuzz/fuzz_queue_decode.c says how). */
int spantap_fuzz_queue_decode(const uint8_t *data, size_t size);

#endif
