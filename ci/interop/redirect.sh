#!/bin/sh
# l2wg: timeout=120
# The redirect use case: tc sends the frames of VLAN 100 on this site's LAN port into a second l2wireguard device (clsact, matchall, mirred egress redirect; no bridge), and they leave the other site's LAN port on VLAN 100 byte-exact, once, in order; a frame over the device's limit is dropped and counted.
. /l2wg/interop/lib.sh
require_config CONFIG_PACKET CONFIG_VLAN_8021Q CONFIG_NET_SCH_INGRESS CONFIG_NET_CLS_MATCHALL \
	CONFIG_NET_ACT_MIRRED
require_tool "$RAWFRAME" /usr/sbin/tc
[ -n "$L2WG_LAN_MAC" ] ||
	ktap_skip_all "no LAN port: it is two more virtio-net NICs, and the underlay is $L2WG_UNDERLAY"

#   [lan: lanh.100] lanh --NIC pair-- lan0 [lan0.100 -tc-> l2wg1] ==wg== other site
LAN=lan
VID=100
PORT=$((WG_PORT + 1))
if [ "$L2WG_FAMILY" = 6 ]; then
	PEER_ENDPOINT="[$UNDER_PEER_IP6]:$PORT"
else
	PEER_ENDPOINT="$UNDER_PEER_IP:$PORT"
fi
# Each site's frames have a source MAC of their own, and go to the other
# site's LAN host (or to a group address).
SRC=024c3252440$N
PEER_SRC=024c3252440$PEER_N
LAN_HOST=$(mac_hex "$L2WG_LAN_HOST_MAC")
PEER_LAN_HOST=$(mac_hex "52:54:00:4c:34:0$PEER_N")

lan_port_up() {
	nic_by_mac "$L2WG_LAN_MAC" lan0 && nic_by_mac "$L2WG_LAN_HOST_MAC" lanh &&
		ip netns add "$LAN" && ip link set lanh netns "$LAN" || return 1
	# promisc: QEMU's virtio-net passes only the frames for the NIC's own
	# MAC address otherwise, and these frames are for hosts behind it.
	ip -b - <<-EOB || return 1
	link set lan0 promisc on up
	link add link lan0 name lan0.$VID type vlan id $VID
	link set lan0.$VID up
	EOB
	ip -n "$LAN" -b - <<-EOB || return 1
	link set lo up
	link set lanh promisc on up
	link add link lanh name lanh.$VID type vlan id $VID
	link set lanh.$VID up
	EOB
	# One FIFO on each NIC: a kernel whose default qdisc is fq_codel
	# (Debian's) sends each flow from its own queue, and the frames of the
	# check, several flows, could leave in another order than sent.
	/usr/sbin/tc qdisc replace dev lan0 root pfifo &&
		nsx "$LAN" /usr/sbin/tc qdisc replace dev lanh root pfifo
}

# l2wg1: the same key as l2wg0, its own port, the other guest's l2wg1 as its
# one peer; the keepalive starts the handshake before any frame.
tunnel_up() {
	echo "$L2WG_PRIVATE_KEY" >"$L2WG_DIR/key"
	ip link add l2wg1 type l2wireguard &&
		wg set l2wg1 private-key "$L2WG_DIR/key" listen-port "$PORT" \
			peer "$L2WG_PEER_PUBLIC_KEY" endpoint "$PEER_ENDPOINT" persistent-keepalive 1 &&
		ip link set l2wg1 up
}

redirect_up() {
	/usr/sbin/tc qdisc add dev lan0.$VID clsact &&
		/usr/sbin/tc filter add dev lan0.$VID ingress matchall action mirred egress redirect dev l2wg1 &&
		/usr/sbin/tc qdisc add dev l2wg1 clsact &&
		/usr/sbin/tc filter add dev l2wg1 ingress matchall action mirred egress redirect dev lan0.$VID
}

# FROM=SRC TO=DST frames: the frames SRC sends to DST (or to a group), as
# hex, from 60 bytes up to the largest l2wg1 takes (MTU + Ethernet header +
# two VLAN tags).
frames() {
	for args in "$TO 88b5 60 0 1" "$TO 88b5 61 0 2" \
		"$TO 88b5 1000 0 3" "$TO 88b5 $MAX 0 4" \
		"$TO 88b5 $((MAX + 8)) 0 5" "$TO 88b5 200 100 6" \
		"ffffffffffff 88b5 60 0 7" "0180c200000e 88cc 300 20 8" \
		"$TO 8847 64 0 9" "$TO 0064aaaa03 114 0 10" \
		"$TO 8100006588b5 300 8 11"; do
		set -- $args
		header="$1$FROM$2"
		echo "$header$("$RAWFRAME" fill $(($3 - ${#header} / 2)) "$5" "$4")"
	done
}

# Leave the site as it was: the LAN host's namespace (lanh goes back to the
# init namespace with it), l2wg1 and the VLAN device.
teardown() {
	ip netns del "$LAN" 2>/dev/null
	ip link del l2wg1 2>/dev/null
	ip link del lan0.$VID 2>/dev/null
}

tx_dropped_grew() {
	[ "$(cat /sys/class/net/l2wg1/statistics/tx_dropped)" -gt "$1" ]
}

not_on_the_bridge() {
	! bridge fdb show br br0 | grep -qi "$(echo "$PEER_SRC" | sed 's/../&:/g; s/:$//')"
}

ktap_plan 8
require_topology
step_or_abort() {
	reason=$1
	shift
	ktap_step "$@"
	[ "$KTAP_FAILED" = 0 ] || { teardown; ktap_abort "$reason"; }
}
step_or_abort "no LAN port" "LAN port: lan0.$VID here, lanh.$VID on the LAN host" lan_port_up
step_or_abort "no l2wg1" "l2wg1, a second l2wireguard device, with the other guest as its peer" \
	tunnel_up
step_or_abort "no redirect" "tc: lan0.$VID ingress to l2wg1, l2wg1 ingress to lan0.$VID" redirect_up
ktap_test "l2wg1 handshake done" wait_until 30 handshake_done_on l2wg1
MTU=$(cat /sys/class/net/l2wg1/mtu)
MAX=$((MTU + 14))
# First one frame over the limit: dropped and counted, never sent.  Were it
# sent, it would be among the first COUNT frames the other site keeps.
"$RAWFRAME" fill $((MAX + 9 - 14)) 12 0 | sed "s/^/$PEER_LAN_HOST${SRC}88b5/" >"$L2WG_DIR/sent"
FROM=$SRC TO=$PEER_LAN_HOST frames >>"$L2WG_DIR/sent"
FROM=$PEER_SRC TO=$LAN_HOST frames >"$L2WG_DIR/expected"
COUNT=$(wc -l <"$L2WG_DIR/expected")
rawframe_recv "$LAN" lanh.$VID "$COUNT" "$L2WG_DIR/received" 30000 "$PEER_SRC" ||
	{ teardown; ktap_abort "the receiver did not start"; }
ktap_step "the other site is ready to receive" barrier 2 60
dropped=$(cat /sys/class/net/l2wg1/statistics/tx_dropped)
rawframe_send "$LAN" lanh.$VID "$L2WG_DIR/sent" 2000
wait "$RAWFRAME_PID"
ktap_test "all $COUNT frames of the other site's VLAN arrived byte-exact, in order, nothing else" \
	cmp "$L2WG_DIR/expected" "$L2WG_DIR/received"
ktap_test "a frame over l2wg1's limit ($((MAX + 9)) bytes) is dropped and counted" \
	wait_until 5 tx_dropped_grew "$dropped"
ktap_test "none of it went through br0 (l2wg0's bridge did not learn the other site's source)" \
	not_on_the_bridge
teardown
ktap_finish
