# Symbolizer (libdwfl) and the test application with a known call chain.
libspantap_la_SOURCES += collector/symbolize.h collector/symbolize.c

noinst_PROGRAMS = tests/apps/chain_app
tests_apps_chain_app_SOURCES = tests/apps/chain_app.c
tests_apps_chain_app_CFLAGS = -g -O1 -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls -pthread
tests_apps_chain_app_LDFLAGS = -pthread

if HAVE_CMOCKA
check_PROGRAMS += tests/test_symbolize
tests_test_symbolize_SOURCES = tests/test_symbolize.c tests/elf_symbol.c tests/elf_symbol.h
tests_test_symbolize_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBDW_CFLAGS) $(LIBELF_CFLAGS) \
	-DCHAIN_APP='"$(abs_top_builddir)/tests/apps/chain_app"'
tests_test_symbolize_LDADD = libspantap.la $(CMOCKA_LIBS) $(LIBDW_LIBS) $(LIBELF_LIBS)
endif

# One program built twice with different build ids, for the import's matching
# of recorded modules by path and build id (tests/test_import_buildid.c).
BUILDID_APP_CFLAGS = -g -O1 -fno-inline -fno-omit-frame-pointer -fno-optimize-sibling-calls
noinst_PROGRAMS += tests/apps/buildid_app_a tests/apps/buildid_app_b
tests_apps_buildid_app_a_SOURCES = tests/apps/buildid_app.c
tests_apps_buildid_app_a_CFLAGS = $(BUILDID_APP_CFLAGS)
tests_apps_buildid_app_a_LDFLAGS = -Wl,--build-id=0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1
tests_apps_buildid_app_b_SOURCES = tests/apps/buildid_app.c
tests_apps_buildid_app_b_CFLAGS = $(BUILDID_APP_CFLAGS)
tests_apps_buildid_app_b_LDFLAGS = -Wl,--build-id=0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2

if HAVE_CMOCKA
check_PROGRAMS += tests/test_import_buildid
tests_test_import_buildid_SOURCES = tests/test_import_buildid.c tests/elf_symbol.c tests/elf_symbol.h
tests_test_import_buildid_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS) $(LIBELF_CFLAGS) \
	-DBUILDID_APP_A='"$(abs_top_builddir)/tests/apps/buildid_app_a"' \
	-DBUILDID_APP_B='"$(abs_top_builddir)/tests/apps/buildid_app_b"' -DOBJCOPY='"$(OBJCOPY)"'
tests_test_import_buildid_LDADD = libspantap.la $(CMOCKA_LIBS) $(SQLITE_LIBS) $(LIBELF_LIBS)
endif
