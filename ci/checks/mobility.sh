#!/bin/sh
# A host that moves to another peer's site and keeps talking is reachable there within 5 s; an address pinned by a static entry never moves, and frames claiming it from elsewhere are refused and counted.
. /l2wg/checks/lib.sh
require_config CONFIG_VETH CONFIG_BRIDGE
require_tool /usr/sbin/ethtool

# Sites a, b, c in a full mesh, each a bridge with a LAN host (10.0.0.1-3);
# hosts hm (10.0.0.8) and hs (10.0.0.9) start out behind b.
setup() {
	l2_full_mesh
	l2_lan a 1
	l2_lan b 2
	l2_lan c 3
	for h in m s; do
		ns_new "h$h"
		ip link add eth0 netns "h$h" type veth peer name "lan-h$h" netns b
		ip -n b link set "lan-h$h" master br0 up
		ip -n "h$h" link set eth0 up
	done
	ip -n hm addr add 10.0.0.8/24 dev eth0
	ip -n hs addr add 10.0.0.9/24 dev eth0
	reaches hm -c 1 10.0.0.1 >/dev/null && reaches hs -c 1 10.0.0.1 >/dev/null
}

# move HOST FROM TO: the host's link leaves FROM's bridge for TO's.
move() {
	ip -n "$2" link set "lan-$1" netns "$3"
	ip -n "$3" link set "lan-$1" master br0 up
}

learned_on() {
	bridge -n a fdb show dev l2wg0 | grep -qi "^$1 dst $2 "
}

# The host keeps talking after the move: 10 requests, one every half second.
# Being reachable within 5 s of talking means a reply to one of them.  The
# bound counts the host's requests, not seconds of the guest's clock: a
# starved guest sends its requests late, while the 2 s that a learned address
# is held for its old peer runs on that clock, so it needs more time but never
# more requests.  No deadline (-w): with one, the first failed ARP resolution
# would end ping early.
moved_host_reachable() {
	mac=$(mac_of hm eth0)
	learned_on "$mac" 192.168.0.2 || return 1
	moves=$(ethtool_stat a l2wg0 fdb_moves)
	move hm b c
	start=$(cut -d' ' -f1 /proc/uptime)
	out=$(nsx hm ping -n -i 0.5 -c 10 -W 2 10.0.0.1)
	elapsed=$(awk -v s="$start" '{ printf "%.1f", $1 - s }' /proc/uptime)
	first=$(echo "$out" | sed -n 's/^[0-9]* bytes from .* icmp_seq=\([0-9]*\) .*/\1/p' | head -n 1)
	echo "the first reply was to request ${first:-none} of 10; $(echo "$out" | grep 'packets transmitted')," \
		"${elapsed}s; fdb_moves $moves -> $(ethtool_stat a l2wg0 fdb_moves)"
	[ -n "$first" ] || return 1
	learned_on "$mac" 192.168.0.3 || { echo "not learned behind c"; return 1; }
}

pinned_never_moves() {
	mac=$(mac_of hs eth0)
	bridge -n a fdb replace "$mac" dev l2wg0 dst 192.168.0.2 self || return 1
	refused=$(ethtool_stat a l2wg0 fdb_source_refused)
	move hs b c
	nsx hs ping -c 6 -i 0.5 -W 1 10.0.0.1 >/dev/null && { echo "hs was reachable"; return 1; }
	now=$(ethtool_stat a l2wg0 fdb_source_refused)
	echo "fdb_source_refused $refused -> $now"
	learned_on "$mac" 192.168.0.2 && bridge -n a fdb show dev l2wg0 | grep -qi "^$mac .*permanent" &&
		[ "$now" -gt "$refused" ]
}

ktap_plan 3
require_l2wireguard
ktap_step "three bridged sites; hosts hm and hs behind b" setup
ktap_test "hm moves to c and is reachable there within 5 s" moved_host_reachable
ktap_test "hs, pinned to b by a static entry, never moves" pinned_never_moves
ktap_finish
