#!/bin/sh
# Keeps docs/architecture.md's "how to add an op" honest: the files it lists for
# adaptive_avg_pool2d (the block after "<!-- op-files: adaptive_avg_pool2d -->") must be the
# files outside tests/ that name the op. When a layer's files change (a tier folded, a file
# split), update the walkthrough and the list together.
#   sh tests/check_op_files.sh [source-root]
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
op=adaptive_avg_pool2d
doc=docs/architecture.md

listed=$(awk -v m="<!-- op-files: $op -->" '
  $0 == m { on = 1; next }
  on && /^```/ { if (inblock) exit; inblock = 1; next }
  on && inblock { print }' "$doc" | sort)
actual=$(grep -rl "$op" kernels runtime bindings plot lib 2>/dev/null | sort)

if [ -z "$listed" ]; then
  echo "check_op_files: no file list for $op in $doc"
  exit 1
fi
if [ "$listed" != "$actual" ]; then
  echo "check_op_files: $doc lists other files for $op than the tree has"
  echo "--- listed in $doc"
  echo "$listed"
  echo "--- in the tree"
  echo "$actual"
  exit 1
fi
echo "check_op_files: ok ($(echo "$actual" | wc -l) files for $op)"
