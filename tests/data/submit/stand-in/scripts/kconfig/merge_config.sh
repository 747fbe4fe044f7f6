#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A stand-in for the kernel's scripts/kconfig/merge_config.sh, for l2wg's unit
# tests (tests/data/submit/README): "merge_config.sh -m -O DIR BASE FRAGMENT..."
# writes DIR/.config: BASE with each fragment's CONFIG_ values merged in, a
# later value of a symbol replacing the earlier one.
set -e
out=.
while [ $# -gt 0 ]; do
	case "$1" in
	-m) shift ;;
	-O) out=$2; shift 2 ;;
	*) break ;;
	esac
done
merged=$(mktemp)
cp "$1" "$merged"
shift
for fragment in "$@"; do
	grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set)' "$fragment" |
	while IFS= read -r line; do
		symbol=$(printf '%s\n' "$line" | sed -E 's/^# (CONFIG_[A-Za-z0-9_]+) .*/\1/; s/=.*//')
		grep -v -E "^($symbol=|# $symbol is not set)" "$merged" > "$merged.new" || :
		printf '%s\n' "$line" >> "$merged.new"
		mv "$merged.new" "$merged"
	done
done
mv "$merged" "$out/.config"
