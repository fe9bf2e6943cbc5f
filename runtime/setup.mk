# spantap setup (machine preparation for stap --runtime=bpf): the library
# sources, the RLIMIT_MEMLOCK LD_PRELOAD shim and the unit test.
# Included by the top Makefile.am; paths are relative to the top directory.

libspantap_la_SOURCES += \
	runtime/report.h runtime/report.c \
	runtime/machine_setup.h runtime/machine_setup.c \
	runtime/kbuild_tree.h runtime/kbuild_tree.c \
	runtime/tracepoint_headers.h runtime/tracepoint_headers.c

# Preloaded into stap/stapbpf (see spantap_setup_bpf_args); found next to the
# spantap executable in the build tree (.libs/) or in $(pkglibdir) once installed.
# Never instrumented (--enable-sanitizers, --enable-fuzzing): a sanitizer
# runtime pulled into stapbpf by LD_PRELOAD aborts it ("ASan runtime does not
# come first"), so its flags are the warnings alone, for compiling and linking.
pkglib_LTLIBRARIES += libspantap_memlock.la
libspantap_memlock_la_SOURCES = runtime/memlock_shim.c
libspantap_memlock_la_CFLAGS = -std=gnu11 $(SPANTAP_WARN_CFLAGS)
libspantap_memlock_la_LDFLAGS = -module -avoid-version -shared
libspantap_memlock_la_LIBADD = -ldl

if HAVE_CMOCKA
check_PROGRAMS += tests/test_setup
tests_test_setup_SOURCES = tests/test_setup.c
tests_test_setup_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBBPF_CFLAGS)
tests_test_setup_LDADD = libspantap.la $(CMOCKA_LIBS)
endif
