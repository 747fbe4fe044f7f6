#!/bin/sh
# Upstream WireGuard's tools/testing/selftests/wireguard/netns.sh (from the
# kernel tree that was built) passes: plain WireGuard is unharmed.
# l2wg: slow alone timeout=400
. /l2wg/checks/lib.sh
# What netns.sh creates or uses (upstream qemu/kernel.config has them).
require_config CONFIG_WIREGUARD CONFIG_VETH CONFIG_DUMMY CONFIG_IP_NF_IPTABLES CONFIG_IP_NF_NAT \
	CONFIG_IP_NF_MANGLE CONFIG_IP_NF_FILTER CONFIG_NETFILTER_XT_MATCH_LENGTH CONFIG_NETFILTER_XT_MARK \
	CONFIG_NETFILTER_XT_NAT CONFIG_IP_ADVANCED_ROUTER CONFIG_IPV6_MULTIPLE_TABLES
require_tool /usr/bin/bash
[ -r /l2wg/upstream/netns.sh ] || ktap_skip_all "netns.sh not found in the kernel tree"

ktap_plan 1
start=$(cut -d' ' -f1 /proc/uptime)
/usr/bin/bash /l2wg/upstream/netns.sh >"$L2WG_DIR/netns.log" 2>&1
rc=$?
sed 's/^/# /' "$L2WG_DIR/netns.log" | tail -n 40
echo "# netns.sh exit $rc after $(awk -v s="$start" '{ printf "%.0f", $1 - s }' /proc/uptime)s"
if [ $rc = 0 ]; then ktap_ok "upstream netns.sh"; else ktap_fail "upstream netns.sh" "exit $rc"; fi
ktap_finish
