#!/bin/sh
# The kernel's WireGuard boot self-tests (CONFIG_WIREGUARD_DEBUG) passed.
. /l2wg/checks/lib.sh
require_config CONFIG_WIREGUARD CONFIG_WIREGUARD_DEBUG

# The fdb suite comes with the l2wireguard patches: it is required of a kernel
# that knows the link kind, or that printed an fdb line (when a self-test
# fails, WireGuard does not load, and no link kind is known).  Stock kernels
# do not have it; DKMS modules on Debian's kernels are skipped above.
fdb=
if dmesg | grep -q "wireguard: fdb self-test"; then
	fdb=fdb
elif ip link add "l2wgprobe$$" type l2wireguard 2>/dev/null; then
	ip link del "l2wgprobe$$"
	fdb=fdb
fi

# Under KASAN or UBSAN (l2wg build --debug), the ratelimiter self-test returns
# at once, as its timings cannot hold, and prints nothing.
ratelimiter_not_run() {
	[ "$suite" = ratelimiter ] && [ -z "$lines" ] && [ -r "$KCONFIG" ] &&
		grep -qE "^CONFIG_(KASAN|UBSAN)=y" "$KCONFIG"
}

if [ -n "$fdb" ]; then ktap_plan 4; else ktap_plan 3; fi
for suite in allowedips "nonce counter" ratelimiter $fdb; do
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
