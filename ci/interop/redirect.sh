#!/bin/sh
# l2wg: timeout=120
# The redirect use case: tc sends the frames of VLAN 100 on this site's LAN port into a second l2wireguard device (clsact, matchall, mirred egress redirect; no bridge), and they leave the other site's LAN port on VLAN 100 byte-exact, once, in order; a frame over the device's limit is dropped and counted.
. /l2wg/interop/lib.sh
require_config CONFIG_PACKET CONFIG_VLAN_8021Q CONFIG_NET_SCH_INGRESS CONFIG_NET_CLS_MATCHALL \
	CONFIG_NET_ACT_MIRRED
require_tool "$RAWFRAME" /usr/sbin/tc
require_lan_port

tx_dropped_grew() {
	[ "$(cat /sys/class/net/l2wg1/statistics/tx_dropped)" -gt "$1" ]
}

ktap_plan 8
require_topology
tc_redirect_site
MTU=$(cat /sys/class/net/l2wg1/mtu)
MAX=$((MTU + 14))
# First one frame over the limit: dropped and counted, never sent.  Were it
# sent, it would be among the first COUNT frames the other site keeps.
"$RAWFRAME" fill $((MAX + 9 - 14)) 12 0 | sed "s/^/$LAN_PEER_HOST${LAN_SRC}88b5/" >"$L2WG_DIR/sent"
FROM=$LAN_SRC TO=$LAN_PEER_HOST MAX=$MAX lan_frames >>"$L2WG_DIR/sent"
FROM=$LAN_PEER_SRC TO=$LAN_HOST MAX=$MAX lan_frames | on_lanh >"$L2WG_DIR/expected"
COUNT=$(wc -l <"$L2WG_DIR/expected")
lan_host_receives "$COUNT" "$L2WG_DIR/received" ||
	{ lan_teardown; ktap_abort "the receiver did not start"; }
ktap_step "the other site is ready to receive" barrier 2 60
dropped=$(cat /sys/class/net/l2wg1/statistics/tx_dropped)
rawframe_send "$LAN" lanh.$VID "$L2WG_DIR/sent"
wait "$RAWFRAME_PID"
ktap_test "all $COUNT frames of the other site's VLAN arrived byte-exact, in order, nothing else" \
	same_frames "$L2WG_DIR/expected" "$L2WG_DIR/received"
ktap_test "a frame over l2wg1's limit ($((MAX + 9)) bytes) is dropped and counted" \
	wait_until 5 tx_dropped_grew "$dropped"
ktap_test "none of it went through br0 (l2wg0's bridge did not learn the other site's source)" \
	lan_not_on_the_bridge
lan_teardown
ktap_finish
