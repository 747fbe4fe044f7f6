#!/bin/sh
# Full-size frames over an IPv6 underlay with MTU 1500: a ping of the
# largest size with DF set crosses the tunnel, and no outer packet is
# fragmented (so l2wg0's MTU leaves room for the encapsulation).
. /l2wg/checks/lib.sh
require_config CONFIG_BRIDGE CONFIG_VETH CONFIG_IPV6

# frag_counters NS: IPv6 fragments created and reassembled in NS.
frag_counters() {
	nsx "$1" cat /proc/net/snmp6 | awk '$1 == "Ip6FragCreates" || $1 == "Ip6ReasmOKs" { n += $2 } END { print n + 0 }'
}

# largest_outer: the largest IPv6 packet captured on b's underlay.
largest_outer() {
	awk '{ n = length($0) / 2 - 14; if (n > max) max = n } END { print max + 0 }' \
		"$L2WG_DIR/underlay"
}

outer_fits() {
	size=$(largest_outer)
	echo "l2wg0 MTU $L2_MTU; largest outer packet on the underlay: $size bytes"
	[ "$size" -gt 1400 ] && [ "$size" -le 1500 ]
}

no_fragments() {
	a=$(frag_counters a) b=$(frag_counters b)
	echo "IPv6 fragments: site a $a, site b $b"
	[ "$a" = 0 ] && [ "$b" = 0 ]
}

# The control for no_fragments: a ping too big for the underlay's MTU is
# fragmented by a and reassembled by b, and frag_counters sees both, so its
# zero above is a measurement and not a counter that never moves.
fragments_are_seen() {
	a=$(frag_counters a) b=$(frag_counters b)
	reaches a -6 -c 1 -s 3000 fd00::2 >/dev/null || return 1
	echo "after a 3000 byte ping over the underlay: site a $a -> $(frag_counters a), site b $b -> $(frag_counters b)"
	[ "$(frag_counters a)" -gt "$a" ] && [ "$(frag_counters b)" -gt "$b" ]
}

oversize_refused() {
	! nsx ha ping -c 1 -W 2 -M do -s $((L2_MTU - 27)) 10.0.0.2
}

ktap_plan 6
require_l2wireguard
l2_sites 6
ip -n a link set u0 mtu 1500
ip -n b link set u0 mtu 1500
ktap_test "IPv4 ping -s $((L2_MTU - 28)) with DF" reaches ha -c 2 -i 0.2 -M do -s $((L2_MTU - 28)) 10.0.0.2
# With the handshake done, capture what a sends b (the neighbour discovery
# and the two echo requests) while ping -6 runs: each reply proves its
# request already reached b's u0, so 2 s of quiet after the ping ends it.
# (A capture whose quiet time started with it kept only a 72-byte packet,
# underlay neighbour discovery, when the guest was busy enough that ping -6
# took longer than that to send its first request.)
rawframe_recv b u0 1000 "$L2WG_DIR/underlay" 2000 "$(mac_hex "$(mac_of a u0)")"
ktap_test "IPv6 ping -s $((L2_MTU - 48)) with DF" reaches ha -6 -c 2 -i 0.2 -M do -s $((L2_MTU - 48)) fd10::2
rawframe_sent
wait "$RAWFRAME_PID"
ktap_test "full-size outer packets are at most 1500 bytes" outer_fits
ktap_test "one byte more is refused, not fragmented" oversize_refused
ktap_test "no fragmented outer packets" no_fragments
ktap_test "control: an underlay packet of 3000 bytes is fragmented, and counted" fragments_are_seen
ktap_finish
