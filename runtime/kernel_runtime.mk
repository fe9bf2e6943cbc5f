# SystemTap's module runtime: module builds (stap -p4 -r KVER), staprun, the
# recording session's module steps (module_session.c), and
# `spantap setup --runtime kernel` with the project's patches to stap's
# runtime (runtime/stap-patches/, compiled into the binary).
# Included by the top Makefile.am; paths are relative to the top directory.

libspantap_la_SOURCES += \
	runtime/kernel_setup.h runtime/kernel_setup.c \
	runtime/module_build.h runtime/module_build.c \
	runtime/bpf_object.h runtime/bpf_object.c \
	runtime/staprun_launch.h runtime/staprun_launch.c \
	runtime/module_session.h runtime/module_session.c
nodist_libspantap_la_SOURCES += runtime/stap_patches.c

STAP_PATCHES = runtime/stap-patches/task-work-cancel-func.patch \
	runtime/stap-patches/relay-no-split.patch \
	runtime/stap-patches/relay-drain-count-lost.patch
EXTRA_DIST += $(STAP_PATCHES)
runtime/stap_patches.c: $(STAP_PATCHES)
	$(AM_V_GEN){ echo '/* generated from runtime/stap-patches/; do not edit */'; \
	  echo '#include "runtime/kernel_setup.h"'; \
	  echo 'const struct spantap_stap_patch spantap_stap_patches[] = {'; \
	  for f in $(STAP_PATCHES); do \
	    printf '  {"%s",\n' "$$(basename $$f)"; \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/   "/' -e 's/$$/\\n"/' $(top_srcdir)/$$f; \
	    echo '  },'; \
	  done; echo '  {0, 0}'; echo '};'; } > $@.tmp && mv $@.tmp $@
BUILT_SOURCES += runtime/stap_patches.c
CLEANFILES += runtime/stap_patches.c

if HAVE_CMOCKA
check_PROGRAMS += tests/test_module_build
tests_test_module_build_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_module_build_LDADD = libspantap.la $(CMOCKA_LIBS)
check_PROGRAMS += tests/test_module_session
tests_test_module_session_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_module_session_LDADD = libspantap.la $(CMOCKA_LIBS)
endif
