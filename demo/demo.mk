# The demo application (three services that log their own ground truth), the
# script that runs it under load, and the accuracy harness that scores the
# spans spantap derived against that truth (docs/demo.md).
# Included by the top Makefile.am; paths are relative to the top directory.

DEMO_CFLAGS = $(AM_CFLAGS) -g -fno-omit-frame-pointer -pthread
DEMO_COMMON = demo/demo_common.h demo/demo_common.c

noinst_PROGRAMS += demo/demo_front demo/demo_middle demo/demo_store demo/spantap-accuracy

demo_demo_front_SOURCES = demo/demo_front.c $(DEMO_COMMON)
demo_demo_front_CFLAGS = $(DEMO_CFLAGS)
demo_demo_front_LDFLAGS = -pthread

demo_demo_middle_SOURCES = demo/demo_middle.c $(DEMO_COMMON)
demo_demo_middle_CFLAGS = $(DEMO_CFLAGS)
demo_demo_middle_LDFLAGS = -pthread

demo_demo_store_SOURCES = demo/demo_store.c $(DEMO_COMMON)
demo_demo_store_CFLAGS = $(DEMO_CFLAGS)
demo_demo_store_LDFLAGS = -pthread

demo_spantap_accuracy_SOURCES = demo/accuracy.c
demo_spantap_accuracy_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
demo_spantap_accuracy_LDADD = $(SQLITE_LIBS)

EXTRA_DIST += demo/run.sh tests/demo_accuracy_selftest.sh tests/demo_untraced.sh

# Neither test needs root: the self-check scores a hand-built database, the
# other runs the demo untraced and checks its ground truth.
TESTS += tests/demo_accuracy_selftest.sh tests/demo_untraced.sh
