#!/bin/sh
# l2wg: timeout=120
# The redirect use case with XDP: a BPF program in generic XDP mode on this site's LAN VLAN (ci/interop/xdp-redirect.bpf.c) redirects its frames into a second l2wireguard device, and another on that device redirects the other site's frames out on the VLAN; they arrive byte-exact, once, in order; a frame over XDP's limit (the device's MTU, its Ethernet header and one VLAN tag) is not sent.
. /l2wg/interop/lib.sh
require_config CONFIG_PACKET CONFIG_VLAN_8021Q CONFIG_BPF_SYSCALL
require_tool "$RAWFRAME" /usr/sbin/tc
require_lan_port

# The programs redirect to fixed ifindexes (one object per target, compiled
# on the host by l2wg), so the devices are made with those.
L2WG1_INDEX=100
VLAN_INDEX=101
OBJECTS=/l2wg/interop/xdp
for index in $L2WG1_INDEX $VLAN_INDEX; do
	[ -f "$OBJECTS/redirect-to-$index.o" ] ||
		ktap_skip_all "no $OBJECTS/redirect-to-$index.o: the host could not compile ci/interop/xdp-redirect.bpf.c (it needs clang and libbpf-dev; see interop.log)"
done

# Generic XDP: l2wireguard has no native XDP (no ndo_bpf), and neither has
# a VLAN device.
xdp_up() {
	ip link set dev lan0.$VID xdpgeneric obj "$OBJECTS/redirect-to-$L2WG1_INDEX.o" sec xdp &&
		ip link set dev l2wg1 xdpgeneric obj "$OBJECTS/redirect-to-$VLAN_INDEX.o" sec xdp &&
		ip -d link show dev lan0.$VID | grep -q 'prog/xdp id' &&
		ip -d link show dev l2wg1 | grep -q 'prog/xdp id'
}

# XDP's redirect takes frames of at most the target's MTU plus its
# Ethernet header and one VLAN tag (xdp_ok_fwd_dev()), l2wg1 itself two
# tags: the frames of lan_frames longer than XDP's limit (the one with
# room for two tags) are left out.
at_most() {
	awk -v max="$1" 'length($0) <= 2 * max'
}

ktap_plan 7
require_topology
lan_step_or_abort "no LAN port" "LAN port: lan0.$VID (ifindex $VLAN_INDEX) here, lanh.$VID on the LAN host" \
	lan_port_up index $VLAN_INDEX
lan_step_or_abort "no l2wg1" "l2wg1 (ifindex $L2WG1_INDEX), a second l2wireguard device, with the other guest as its peer" \
	lan_tunnel_up index $L2WG1_INDEX
lan_step_or_abort "no XDP program" "generic XDP: lan0.$VID redirects to l2wg1, l2wg1 to lan0.$VID" xdp_up
ktap_test "l2wg1 handshake done" wait_until 30 handshake_done_on l2wg1
MTU=$(cat /sys/class/net/l2wg1/mtu)
MAX=$((MTU + 14))
XDP_MAX=$((MAX + 4))
# First one frame a byte over XDP's limit: never sent.  Were it sent, it
# would be among the first COUNT frames the other site keeps.
"$RAWFRAME" fill $((XDP_MAX + 1 - 14)) 12 0 | sed "s/^/$LAN_PEER_HOST${LAN_SRC}88b5/" >"$L2WG_DIR/sent"
FROM=$LAN_SRC TO=$LAN_PEER_HOST MAX=$MAX lan_frames | at_most $XDP_MAX >>"$L2WG_DIR/sent"
FROM=$LAN_PEER_SRC TO=$LAN_HOST MAX=$MAX lan_frames | at_most $XDP_MAX | on_lanh \
	>"$L2WG_DIR/expected"
COUNT=$(wc -l <"$L2WG_DIR/expected")
lan_host_receives "$COUNT" "$L2WG_DIR/received" ||
	{ lan_teardown; ktap_abort "the receiver did not start"; }
ktap_step "the other site is ready to receive" barrier 3 60
rawframe_send "$LAN" lanh.$VID "$L2WG_DIR/sent"
wait "$RAWFRAME_PID"
ktap_test "all $COUNT frames of the other site's VLAN arrived byte-exact, in order, nothing else" \
	same_frames "$L2WG_DIR/expected" "$L2WG_DIR/received"
ktap_test "none of it went through br0 (l2wg0's bridge did not learn the other site's source)" \
	lan_not_on_the_bridge
lan_teardown
ktap_finish
