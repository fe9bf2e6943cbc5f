#!/bin/sh
# Checks every tracked C source and header against .clang-format; prints the
# files that differ and exits 1 when any does. Run from the top of the tree.
# Golden scripts are data, not sources, and are left out.
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null 2>&1 || {
  echo "check-format: clang-format is not installed (./bootstrap installs it)" >&2
  exit 1
}
bad=0
for f in $(git ls-files '*.c' '*.h' | grep -v '^tests/golden/'); do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "check-format: $f differs from .clang-format (clang-format -i $f)" >&2
    bad=1
  fi
done
[ "$bad" -eq 0 ] && echo "check-format: every C source matches .clang-format"
exit "$bad"
