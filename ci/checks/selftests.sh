#!/bin/sh
# The kernel's WireGuard boot self-tests (CONFIG_WIREGUARD_DEBUG) passed.
. /l2wg/checks/lib.sh
require_config CONFIG_WIREGUARD CONFIG_WIREGUARD_DEBUG

ktap_plan 3
for suite in allowedips "nonce counter" ratelimiter; do
	line=$(dmesg | grep "wireguard: $suite self-tests")
	case $line in
	*"self-tests: pass"*) ktap_ok "$suite" ;;
	"") ktap_fail "$suite" "no '$suite self-tests' line in dmesg" ;;
	*) ktap_fail "$suite" "$line" ;;
	esac
done
ktap_finish
