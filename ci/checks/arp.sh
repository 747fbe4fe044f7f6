#!/bin/sh
# ARP and IPv6 neighbour discovery resolve across the bridged l2wireguard tunnel.
. /l2wg/checks/lib.sh
require_config CONFIG_BRIDGE CONFIG_VETH CONFIG_IPV6

# garp_seen: a gratuitous ARP from ha arrives at hb as a broadcast.  The
# receiver keeps the first broadcast ARP frame from ha, and waits up to 5 s
# for it once arping is done.
garp_seen() {
	rawframe_recv hb eth0 1 "$L2WG_DIR/garp" 5000 \
		"0:ffffffffffff$(mac_hex "$(mac_of ha eth0)")0806"
	nsx ha arping -U -c 1 -I eth0 10.0.0.1 >/dev/null
	rawframe_sent
	wait "$RAWFRAME_PID"
	grep -q '^ffffffffffff............0806' "$L2WG_DIR/garp"
}

ktap_plan 4
require_l2wireguard
l2_sites 4
MAC_HB=$(mac_of hb eth0)
ktap_test "arping ha -> hb" nsx ha arping -f -c 3 -w 5 -I eth0 10.0.0.2
reaches ha -c 1 10.0.0.2 >/dev/null
ktap_test "ha learned hb's MAC via ARP" neigh_is ha 10.0.0.2 "$MAC_HB"
reaches ha -6 -c 1 fd10::2 >/dev/null
ktap_test "ha learned hb's MAC via NDP" neigh_is ha fd10::2 "$MAC_HB"
ktap_test "gratuitous ARP reaches the other site" garp_seen
ktap_finish
