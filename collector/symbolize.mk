# Symbolizer (libdwfl) and the test application with a known call chain.
libspantap_la_SOURCES += collector/symbolize.h collector/symbolize.c

noinst_PROGRAMS = tests/apps/chain_app
tests_apps_chain_app_SOURCES = tests/apps/chain_app.c
tests_apps_chain_app_CFLAGS = -g -O1 -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls -pthread
tests_apps_chain_app_LDFLAGS = -pthread

if HAVE_CMOCKA
check_PROGRAMS += tests/test_symbolize
tests_test_symbolize_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBDW_CFLAGS) $(LIBELF_CFLAGS) \
	-DCHAIN_APP='"$(abs_top_builddir)/tests/apps/chain_app"'
tests_test_symbolize_LDADD = libspantap.la $(CMOCKA_LIBS) $(LIBDW_LIBS) $(LIBELF_LIBS)
endif
