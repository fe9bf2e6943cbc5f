# BPF-map transport: the queue layout (common/), its SystemTap code
# (runtime/), the decoder and the map reader (collector/), their tests, fuzz
# harness and benchmark. Included by the top Makefile.am; paths are relative
# to the top directory.
libspantap_la_SOURCES += \
	include/spantap/record_queue.h common/record_queue.c \
	runtime/queue_emit.h runtime/queue_emit.c \
	collector/queue_decode.h collector/queue_decode.c \
	collector/bpf_map_source.h collector/bpf_map_source.c \
	collector/map_feed.h collector/map_feed.c collector/time_order.h collector/time_order.c

if HAVE_CMOCKA
check_PROGRAMS += tests/test_queue_emit tests/test_queue_decode tests/test_map_feed \
	tests/test_time_order
tests_test_time_order_SOURCES = tests/test_time_order.c tests/xorshift.h
tests_test_time_order_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_time_order_LDADD = libspantap.la $(CMOCKA_LIBS)
tests_test_map_feed_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_map_feed_LDADD = libspantap.la $(CMOCKA_LIBS) $(SQLITE_LIBS)
tests_test_queue_emit_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_queue_emit_LDADD = libspantap.la $(CMOCKA_LIBS)
# the fuzz harness's code path, to replay its seeds (tests/fuzz/queue_corpus)
tests_test_queue_decode_SOURCES = tests/test_queue_decode.c tests/fuzz/fuzz_queue_decode.c \
	tests/fuzz/fuzz_targets.h
tests_test_queue_decode_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -DSPANTAP_FUZZ_REPLAY \
	-DFUZZ_DIR='"$(abs_top_srcdir)/tests/fuzz"'
tests_test_queue_decode_LDADD = libspantap.la $(CMOCKA_LIBS)
TESTS += tests/live/queue_elaborate.sh
endif
EXTRA_DIST += tests/live/queue_elaborate.sh

# `make bench` does not run it yet (the top Makefile.am's list): build and run
# with `make bench/queue_decode_bench && bench/queue_decode_bench 2000000`.
EXTRA_PROGRAMS += bench/queue_decode_bench
bench_queue_decode_bench_SOURCES = bench/queue_decode_bench.c
bench_queue_decode_bench_LDADD = libspantap.la
CLEANFILES += bench/queue_decode_bench
# The fuzz harness of the decoder is in tests/fuzz/fuzz.mk with the others.
