# `spantap report`: the HTML report (reports/html/) and its tests.
# Included by the top Makefile.am; paths are relative to the top directory.
#
# The page's assets and the pinned d3 (package.json / package-lock.json,
# installed into node_modules/ by ./bootstrap with npm ci) are compiled into
# spantap, so a report opens offline and spantap needs no install location or
# node at run time; building spantap needs node_modules/d3 (run ./bootstrap).

HTML_ASSETS = reports/html/assets/report.html reports/html/assets/report.css \
	reports/html/assets/report.js
HTML_D3 = node_modules/d3/dist/d3.min.js
reports/html/html_assets.c: $(HTML_ASSETS) $(HTML_D3) reports/html/embed-assets.sh
	$(AM_V_GEN)cd $(top_srcdir) && $(SHELL) reports/html/embed-assets.sh \
	  template=reports/html/assets/report.html css=reports/html/assets/report.css \
	  js=reports/html/assets/report.js d3=$(HTML_D3) > $(abs_top_builddir)/$@.tmp \
	  && mv $(abs_top_builddir)/$@.tmp $(abs_top_builddir)/$@
$(HTML_D3):
	@echo "spantap report inlines d3 from $@, which is missing: run ./bootstrap (it runs npm ci)" >&2; exit 1
BUILT_SOURCES += reports/html/html_assets.c
CLEANFILES += reports/html/html_assets.c
EXTRA_DIST += $(HTML_ASSETS) $(HTML_D3) reports/html/embed-assets.sh package.json package-lock.json

libspantap_la_SOURCES += reports/html/report_data.h reports/html/report_data.c \
	reports/html/report_page.h reports/html/report_page.c reports/html/html_assets.h
nodist_libspantap_la_SOURCES += reports/html/html_assets.c
spantap_SOURCES += cli/cmd_report_html.c

if HAVE_CMOCKA
check_PROGRAMS += tests/test_report_html
# the recordings are made by the real `spantap import`
tests_test_report_html_CFLAGS = $(TEST_CFLAGS) $(SQLITE_CFLAGS) \
	-DSPANTAP_BIN='"$(abs_top_builddir)/spantap$(EXEEXT)"'
tests_test_report_html_LDADD = $(TEST_LIBS) $(SQLITE_LIBS)
TESTS += tests/live/report_html_live.sh
endif
EXTRA_DIST += tests/live/js/report_html.test.mjs bench/report_bench.sh bench/report_load.mjs

# `make bench-report`: the report's size and load time for N and 4N spans.
bench-report: all
	$(srcdir)/bench/report_bench.sh 25000
.PHONY: bench-report
