# spantap export: a recording to OTLP, pprof, folded stacks, the Chrome trace
# event format and Prometheus metrics (docs/exports.md), and the /metrics
# server. Included by the top Makefile.am; paths are relative to the top.

# protobuf-c code generated at build time: OTLP's trace messages from the
# subset in export/proto/, pprof's profile.proto from the Debian package.
EXPORT_OTLP_PROTOS = export/proto/opentelemetry/proto/common/v1/common.proto \
	export/proto/opentelemetry/proto/resource/v1/resource.proto \
	export/proto/opentelemetry/proto/trace/v1/trace.proto \
	export/proto/opentelemetry/proto/collector/trace/v1/trace_service.proto
EXPORT_PB_C = export/gen/profile.pb-c.c \
	export/gen/opentelemetry/proto/common/v1/common.pb-c.c \
	export/gen/opentelemetry/proto/resource/v1/resource.pb-c.c \
	export/gen/opentelemetry/proto/trace/v1/trace.pb-c.c \
	export/gen/opentelemetry/proto/collector/trace/v1/trace_service.pb-c.c
EXPORT_PB_H = $(EXPORT_PB_C:.c=.h)
export/gen/.stamp: $(EXPORT_OTLP_PROTOS) $(PPROF_PROTO)
	$(AM_V_GEN)rm -rf export/gen.tmp && $(MKDIR_P) export/gen.tmp && \
	$(PROTOC_C) --c_out=export/gen.tmp -I$(top_srcdir)/export/proto \
		$(addprefix $(top_srcdir)/,$(EXPORT_OTLP_PROTOS)) && \
	$(PROTOC_C) --c_out=export/gen.tmp -I$(dir $(PPROF_PROTO)) $(PPROF_PROTO) && \
	rm -rf export/gen && mv export/gen.tmp export/gen && touch $@
$(EXPORT_PB_C) $(EXPORT_PB_H): export/gen/.stamp
BUILT_SOURCES += export/gen/.stamp
EXTRA_DIST += export/proto
clean-local: clean-export-gen
clean-export-gen:
	rm -rf export/gen export/gen.tmp
.PHONY: clean-export-gen

# The generated code builds without the project's warning set (it is not ours).
noinst_LTLIBRARIES += libspantap_pb.la
nodist_libspantap_pb_la_SOURCES = $(EXPORT_PB_C) $(EXPORT_PB_H)
libspantap_pb_la_CFLAGS = -std=gnu11 $(SPANTAP_SANITIZE_CFLAGS) $(PROTOBUF_C_CFLAGS)
libspantap_pb_la_CPPFLAGS = -I$(top_builddir)/export/gen
libspantap_pb_la_LIBADD = $(PROTOBUF_C_LIBS)

EXPORT_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/export/gen
EXPORT_DEP_CFLAGS = $(SQLITE_CFLAGS) $(PROTOBUF_C_CFLAGS) $(JSON_C_CFLAGS) $(LIBCURL_CFLAGS) \
	$(MHD_CFLAGS) $(ZLIB_CFLAGS)
EXPORT_DEP_LIBS = $(SQLITE_LIBS) $(PROTOBUF_C_LIBS) $(JSON_C_LIBS) $(LIBCURL_LIBS) $(MHD_LIBS) \
	$(ZLIB_LIBS)
noinst_LTLIBRARIES += libspantap_export.la
libspantap_export_la_SOURCES = export/export.h export/export_db.h export/export_db.c \
	export/ids.h export/ids.c export/sql_rows.h export/sql_rows.c \
	export/stack_text.h export/stack_text.c export/output.h export/output.c \
	export/otlp.h export/otlp.c export/otlp_json.c export/otlp_post.h export/otlp_post.c \
	export/pprof.c export/folded.c export/chrome.c export/prometheus.c \
	export/metrics_http.h export/metrics_http.c export/live_metrics.h export/live_metrics.c
libspantap_export_la_CPPFLAGS = $(EXPORT_CPPFLAGS)
libspantap_export_la_CFLAGS = $(AM_CFLAGS) $(EXPORT_DEP_CFLAGS)
libspantap_export_la_LIBADD = libspantap_pb.la $(EXPORT_DEP_LIBS)

spantap_SOURCES += cli/cmd_export.c
spantap_LDADD += libspantap_export.la

# `make bench`: export rate and peak memory for N and 4N spans.
EXTRA_PROGRAMS += bench/export_bench
bench_export_bench_SOURCES = bench/export_bench.c tests/export_stream.c tests/export_stream.h
bench_export_bench_CPPFLAGS = $(EXPORT_CPPFLAGS) -DSPANTAP_BIN='"$(abs_top_builddir)/spantap"'
bench_export_bench_CFLAGS = $(AM_CFLAGS) $(EXPORT_DEP_CFLAGS)
bench_export_bench_LDADD = libspantap_export.la libspantap.la $(EXPORT_DEP_LIBS)
CLEANFILES += bench/export_bench
export-bench: bench/export_bench$(EXEEXT) spantap$(EXEEXT)
	$(builddir)/bench/export_bench 50000
.PHONY: export-bench

if HAVE_CMOCKA
check_PROGRAMS += tests/test_export
tests_test_export_SOURCES = tests/test_export.c tests/export_stream.c tests/export_stream.h
tests_test_export_CPPFLAGS = $(EXPORT_CPPFLAGS) -DSPANTAP_BIN='"$(abs_top_builddir)/spantap"'
tests_test_export_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(EXPORT_DEP_CFLAGS)
tests_test_export_LDADD = libspantap_export.la libspantap.la $(CMOCKA_LIBS) $(EXPORT_DEP_LIBS)
# Live: each export read by its real consumer (needs root to record the demo).
TESTS += tests/live/export_consumers_live.sh
endif
