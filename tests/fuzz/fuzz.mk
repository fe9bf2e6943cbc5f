# Fuzzing: libFuzzer harnesses of the stream parser and the collector, their
# seed corpus, and `make fuzz-short`, a bounded run of each (CI runs it).
# Included by the top Makefile.am; paths are relative to the top directory.
# The replay of tests/fuzz/regressions/ in `make check` is
# tests/test_fuzz_regressions.c, registered with the other unit tests.
EXTRA_DIST += tests/fuzz

# Seconds each harness runs in `make fuzz-short` (make fuzz-short FUZZ_TIME=300).
FUZZ_TIME = 30
FUZZ_RUN_FLAGS = -max_total_time=$(FUZZ_TIME) -max_len=8192 -timeout=20 -rss_limit_mb=2048 \
	-print_final_stats=1

if ENABLE_FUZZING
FUZZ_HARNESSES = tests/fuzz/fuzz_stream_parse tests/fuzz/fuzz_collector
FUZZ_HARNESSES += tests/fuzz/fuzz_queue_decode
noinst_PROGRAMS += $(FUZZ_HARNESSES)
tests_fuzz_fuzz_stream_parse_SOURCES = tests/fuzz/fuzz_stream_parse.c tests/fuzz/fuzz_targets.h
tests_fuzz_fuzz_stream_parse_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_stream_parse_LDADD = libspantap.la
tests_fuzz_fuzz_collector_SOURCES = tests/fuzz/fuzz_collector.c tests/fuzz/fuzz_targets.h
tests_fuzz_fuzz_collector_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_collector_LDADD = libspantap.la
# the queue decoder: binary input, its own seed corpus (no stream dictionary)
tests_fuzz_fuzz_queue_decode_SOURCES = tests/fuzz/fuzz_queue_decode.c tests/fuzz/fuzz_targets.h
tests_fuzz_fuzz_queue_decode_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_queue_decode_LDADD = libspantap.la
CLEANFILES += tests/fuzz/fuzz_queue_decode.log
CLEANFILES += tests/fuzz/crash-* tests/fuzz/leak-* tests/fuzz/timeout-* tests/fuzz/oom-*

# Each harness starts from the seed corpus and the regressions (read only: new
# inputs go to a scratch directory, removed afterwards). A crash, leak, timeout
# or sanitizer report fails the target and leaves the input in tests/fuzz/.
fuzz-short: $(FUZZ_HARNESSES)
	@set -e; for f in $(FUZZ_HARNESSES); do \
	  name=$${f##*/}; \
	  seeds="$(srcdir)/tests/fuzz/corpus $(srcdir)/tests/fuzz/regressions"; dict=-dict=$(srcdir)/tests/fuzz/stream.dict; \
	  if [ $$name = fuzz_queue_decode ]; then seeds=$(srcdir)/tests/fuzz/queue_corpus; dict=; fi; \
	  scratch=$$(mktemp -d "$${TMPDIR:-/tmp}/spantap-$$name.XXXXXX"); \
	  echo "fuzz-short: $$name for $(FUZZ_TIME) s"; \
	  if UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	     ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	     $(builddir)/$$f $(FUZZ_RUN_FLAGS) $$dict -artifact_prefix=$(builddir)/tests/fuzz/ \
	       "$$scratch" $$seeds \
	       > $(builddir)/tests/fuzz/$$name.log 2>&1; then \
	    rm -rf "$$scratch"; \
	    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' $(builddir)/tests/fuzz/$$name.log || true; \
	  else \
	    rm -rf "$$scratch"; \
	    tail -60 $(builddir)/tests/fuzz/$$name.log; \
	    echo "fuzz-short: $$name FAILED (log: $(builddir)/tests/fuzz/$$name.log); the input is the" \
	      "crash-*/leak-*/timeout-* file in $(builddir)/tests/fuzz/: replay it with $(builddir)/$$f FILE," \
	      "fix the bug and add the file to tests/fuzz/regressions/" >&2; \
	    exit 1; \
	  fi; \
	done
CLEANFILES += tests/fuzz/fuzz_stream_parse.log tests/fuzz/fuzz_collector.log
else
fuzz-short:
	@echo "fuzz-short: the harnesses need a fuzzing build: ./configure CC=clang --enable-fuzzing" \
	  "(clang with libFuzzer: apt-get install clang libclang-rt-dev)" >&2; exit 1
endif
.PHONY: fuzz-short
