#!/bin/sh
# l2wg: timeout=120
# A peer sending from endless new MACs fills only its own share of the FDB: another peer's new host is still learned, unicast to it reaches only that peer, and the refusals are counted (ethtool -S).
. /l2wg/checks/lib.sh
require_config CONFIG_VETH CONFIG_PACKET CONFIG_BRIDGE
require_tool "$RAWFRAME" /usr/sbin/ethtool

FLOOD=10000
PER_PEER=2048
# Frames a receives meanwhile that are not part of the flood (ARP from b
# and c).
SLACK=16

# a, b and c in a full mesh; c will be the peer that floods.  No IPv6 on
# l2wg0: its router solicitations and MLD reports come with growing
# intervals long after link up, and on the debug kernel, where the check
# runs for minutes, b's and c's added up to more than SLACK.
setup() {
	l2_full_mesh
	for s in a b c; do
		nsx "$s" sysctl -qw net.ipv6.conf.l2wg0.disable_ipv6=1
	done
	l2_mesh_up
}

# c sends FLOOD frames to a, each from a new random source MAC.  Not all of
# them need reach a's l2wireguard: c's l2wg0 drops some when its queue to
# the peer is full (its tx_dropped), and on a busy machine the UDP socket and
# WireGuard's decryption queues on a drop others before they are decrypted.
# Every frame decrypted on a is counted in a's rx_packets before any L2 code
# sees it; each is then learned (at most c's share) or refused and counted.
# So the flood is measured by what arrived at a.
flood() {
	arrived_before=$(stat_of a l2wg0 rx_packets)
	refused_before=$(ethtool_stat a l2wg0 fdb_learn_refused_peer_limit)
	lost_before=$(stat_of c l2wg0 tx_dropped)
	nsx c "$RAWFRAME" macflood l2wg0 "$FLOOD" "$(mac_hex "$(mac_of a l2wg0)")" 7
	# The frames are decrypted on a asynchronously: wait until no more come in.
	wait_until 30 arrivals_settled
	rc=$?
	echo "c sent $FLOOD frames and dropped $(lost) of them itself (tx_dropped);" \
		"$(arrived) arrived at a, which refused $(refused) for c's limit"
	# Fewer than twice the share arriving would not test the limit.
	[ $rc = 0 ] && [ "$(arrived)" -ge $((2 * PER_PEER)) ]
}

lost() {
	echo $(($(stat_of c l2wg0 tx_dropped) - lost_before))
}

arrived() {
	echo $(($(stat_of a l2wg0 rx_packets) - arrived_before))
}

refused() {
	echo $(($(ethtool_stat a l2wg0 fdb_learn_refused_peer_limit) - refused_before))
}

# True once a's count of arrived frames has not moved for a second or more.
arrivals_settled() {
	now=$(arrived)
	if [ "$now" != "${settled_at:-}" ]; then
		settled_at=$now
		settled_since=$(uptime_s)
		return 1
	fi
	[ $(($(uptime_s) - settled_since)) -ge 2 ]
}

# Every frame that arrived was either learned, at most c's share of them, or
# refused for c's limit and counted.
# Each counter is read once: a frame arriving between two reads of it would
# count against the refusals read before it.
c_holds_its_share() {
	count=$(fdb_count a 192.168.0.3) arrived=$(arrived) refused=$(refused)
	echo "a's FDB: $count entries for c; $arrived frames arrived," \
		"$refused refused for c's limit"
	[ "$count" -le "$PER_PEER" ] && [ "$refused" -le "$arrived" ] &&
		[ "$refused" -ge $((arrived - PER_PEER - SLACK)) ]
}

# A host that appears behind b after the flood: b sends from a new MAC X.
X=02bb00000042

new_host_learned() {
	echo "$(mac_hex "$(mac_of a l2wg0)")${X}88b5$("$RAWFRAME" fill 46 1 0)" \
		>"$L2WG_DIR/from-x"
	rawframe_send b l2wg0 "$L2WG_DIR/from-x"
	wait_until 5 sh -c "bridge -n a fdb show dev l2wg0 | grep -qi '^02:bb:00:00:00:42 dst 192.168.0.2 '"
}

# a sends 5 unicast frames to X: b gets all 5, c none.
unicast_only_to_b() {
	: >"$L2WG_DIR/to-x"
	for i in 1 2 3 4 5; do
		echo "${X}$(mac_hex "$(mac_of a l2wg0)")88b6$("$RAWFRAME" fill 46 $i 0)" >>"$L2WG_DIR/to-x"
	done
	rawframe_recv b l2wg0 5 "$L2WG_DIR/rx-b" 10000 "0:${X}" || return 1
	pid_b=$RAWFRAME_PID
	rawframe_recv c l2wg0 5 "$L2WG_DIR/rx-c" 1000 "0:${X}" || return 1
	pid_c=$RAWFRAME_PID
	sent=$(stat_of a l2wg0 tx_packets) in_b=$(stat_of b l2wg0 rx_packets)
	rawframe_send a l2wg0 "$L2WG_DIR/to-x"
	wait "$pid_b"
	wait "$pid_c"
	got_b=$(grep -c . "$L2WG_DIR/rx-b") got_c=$(grep -c . "$L2WG_DIR/rx-c")
	echo "b got $got_b of 5, c got $got_c (a's l2wg0 sent" \
		"$(($(stat_of a l2wg0 tx_packets) - sent)), b's received" \
		"$(($(stat_of b l2wg0 rx_packets) - in_b)); a's FDB:" \
		"$(bridge -n a fdb show dev l2wg0 | grep -i '^02:bb:00:00:00:42 ')"
	[ "$got_b" = 5 ] && [ "$got_c" = 0 ]
}

ktap_plan 5
require_l2wireguard
ktap_step "three peers in a full mesh" setup
ktap_step "c floods $FLOOD new source MACs to a" flood
ktap_test "a learned no more than $PER_PEER of them, and counted the rest" c_holds_its_share
ktap_test "a host new behind b is still learned on b" new_host_learned
ktap_test "unicast to it reaches b only, never c" unicast_only_to_b
ktap_finish
