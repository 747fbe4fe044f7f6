#!/bin/sh
# The kernel's WireGuard boot self-tests (CONFIG_WIREGUARD_DEBUG) passed.
. /l2wg/checks/lib.sh
require_config CONFIG_WIREGUARD CONFIG_WIREGUARD_DEBUG

# The "l2 frame" and fdb suites come with the l2wireguard patches: they are
# required of a kernel that knows the link kind, or that printed one of their
# lines (when a self-test fails, WireGuard does not load, and no link kind is
# known).  Stock kernels do not have them; DKMS modules on Debian's kernels
# are skipped above.
l2=
if dmesg | grep -qE "wireguard: (fdb|l2 frame) self-test"; then
	l2=1
elif knows_l2wireguard; then
	l2=1
fi

# Under KASAN or UBSAN (l2wg build --debug), the ratelimiter self-test returns
# at once, as its timings cannot hold, and prints nothing.
ratelimiter_not_run() {
	[ "$suite" = ratelimiter ] && [ -z "$lines" ] && [ -r "$KCONFIG" ] &&
		grep -qE "^CONFIG_(KASAN|UBSAN)=y" "$KCONFIG"
}

suites="allowedips:nonce counter:ratelimiter"
if [ -n "$l2" ]; then
	suites="$suites:l2 frame:fdb"
	ktap_plan 5
else
	ktap_plan 3
fi
IFS=:
for suite in $suites; do
	unset IFS
	# "<suite> self-tests: pass", or lines like "<suite> self-test 3: FAIL".
	lines=$(dmesg | grep "wireguard: $suite self-test")
	if ratelimiter_not_run; then
		ktap_skip "$suite" "not run by kernels with KASAN or UBSAN"
		continue
	fi
	case $lines in
	*"$suite self-tests: pass"*) ktap_ok "$suite" ;;
	"") ktap_fail "$suite" "no '$suite self-tests' line in dmesg" ;;
	*) ktap_fail "$suite" "$(echo "$lines" | head -n 1 | sed 's/^\[[^]]*\] *//')" ;;
	esac
done
ktap_finish
