# `make check-guest`: SystemTap's module runtime run for real. Builds a qemu
# guest from Debian's kernel package (tests/guest/prepare.sh), builds spantap's
# modules on this host for that kernel (spantap record --compile-only), and
# records with `spantap record --module` inside the guest; the recordings come
# back over a 9p share and are checked here. Needs root; downloads and stap's
# cache stay in $(SPANTAP_GUEST_CACHE).
SPANTAP_GUEST_CACHE ?= /var/cache/spantap-guest
EXTRA_DIST += tests/guest
check-guest: all
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	  $(SHELL) $(top_srcdir)/tests/guest/check_guest.sh '$(SPANTAP_GUEST_CACHE)'
.PHONY: check-guest
