#!/bin/sh
# MTU: a frame longer than l2wg0's MTU (plus the Ethernet header and two VLAN tags) is dropped and counted, never sent as fragmented outer packets; a full-size double-tagged frame still fits a 1500 byte outer packet; max_mtu keeps the outer datagram within 64 KiB.
. /l2wg/checks/lib.sh
require_config CONFIG_VETH CONFIG_PACKET CONFIG_NET_SCH_INGRESS CONFIG_NET_CLS_MATCHALL CONFIG_NET_ACT_MIRRED
require_tool "$RAWFRAME" /usr/sbin/tc

setup() {
	l2_underlay a b
	l2_redirected_pair
	DST=$(mac_hex "$(mac_of b l2wg0)") SRC=02dd00000001
	# Handshake first, so that what follows is data.
	echo "${DST}${SRC}88b5$("$RAWFRAME" fill 46 1 0)" >"$L2WG_DIR/hello"
	rawframe_recv b l2wg0 1 "$L2WG_DIR/rx-hello" 10000 "0:$DST$SRC"
	rawframe_send a f0 "$L2WG_DIR/hello"
	wait "$RAWFRAME_PID"
	grep -q . "$L2WG_DIR/rx-hello"
}

# frame LEN TAGS: a frame of LEN bytes from SRC to DST with TAGS VLAN tags.
frame() {
	tags=""
	[ "$2" -ge 1 ] && tags="${tags}88a80064"
	[ "$2" -ge 2 ] && tags="${tags}810000c8"
	head="${DST}${SRC}${tags}88b5"
	echo "$head$("$RAWFRAME" fill $(($1 - ${#head} / 2)) "$1" 0)"
}

# frag_counters: IPv4 fragments made (FragCreates) or received (ReasmReqds) on
# both sites.
frag_counters() {
	for ns in a b; do nsx "$ns" cat /proc/net/snmp; done | awk '
		$1 == "Ip:" && $2 !~ /^[0-9]/ { for (i = 2; i <= NF; i++) name[i] = $i; next }
		$1 == "Ip:" { for (i = 2; i <= NF; i++)
			if (name[i] == "FragCreates" || name[i] == "ReasmReqds") n += $i }
		END { print n + 0 }'
}

sizes() {
	: >"$L2WG_DIR/ok" && : >"$L2WG_DIR/big"
	frame "$MAX" 2 >>"$L2WG_DIR/ok"
	frame $((MTU + 14)) 0 >>"$L2WG_DIR/ok"
	frame $((MAX + 1)) 2 >>"$L2WG_DIR/big"
	frame $((MTU + 64)) 0 >>"$L2WG_DIR/big"
	frame 8000 1 >>"$L2WG_DIR/big"
	cat "$L2WG_DIR/ok" "$L2WG_DIR/big" >"$L2WG_DIR/all"
	dropped=$(stat_of a l2wg0 tx_dropped) frags=$(frag_counters)
	rawframe_recv b u0 10 "$L2WG_DIR/under" 2000
	pid_u=$RAWFRAME_PID
	rawframe_recv b l2wg0 5 "$L2WG_DIR/rx" 2000 "6:$SRC"
	pid_b=$RAWFRAME_PID
	rawframe_send a f0 "$L2WG_DIR/all" 2000
	wait "$pid_b"
	wait "$pid_u"
}

delivered_exactly() {
	echo "l2wg0 MTU $MTU: sent $(grep -c . "$L2WG_DIR/ok") frames of at most $MAX bytes and $(grep -c . "$L2WG_DIR/big") longer ones; b got $(grep -c . "$L2WG_DIR/rx")"
	sort "$L2WG_DIR/ok" >"$L2WG_DIR/ok.sorted"
	sort "$L2WG_DIR/rx" | cmp -s - "$L2WG_DIR/ok.sorted"
}

dropped_and_counted() {
	now=$(stat_of a l2wg0 tx_dropped)
	echo "a's tx_dropped: $dropped -> $now"
	[ "$now" -eq $((dropped + $(grep -c . "$L2WG_DIR/big"))) ]
}

no_fragments() {
	largest=$(awk '{ n = length($0) / 2 - 14; if (n > m) m = n } END { print m + 0 }' "$L2WG_DIR/under")
	echo "largest outer packet: $largest bytes; IP fragments made or reassembled: $frags -> $(frag_counters)"
	[ "$largest" -le 1500 ] && [ "$largest" -gt 1400 ] && [ "$(frag_counters)" = "$frags" ]
}

# The control for no_fragments: a ping too big for the underlay's MTU is
# fragmented by a and reassembled by b, and frag_counters sees it, so an
# unchanged count above is a measurement and not a counter that never moves.
fragments_are_seen() {
	frags=$(frag_counters)
	reaches a -c 1 -s 3000 "$UNDER_b" >/dev/null || return 1
	echo "after a 3000 byte ping over the underlay: $frags -> $(frag_counters)"
	[ "$(frag_counters)" -gt "$frags" ]
}

max_mtu() {
	max=$(ip -n a -d link show dev l2wg0 | sed -n 's/.* maxmtu \([0-9]*\).*/\1/p')
	echo "maxmtu $max"
	[ "$max" -le $((65535 - 20 - 8 - 32 - 26)) ] &&
		ip -n a link set l2wg0 mtu "$max" && ! ip -n a link set l2wg0 mtu $((max + 1)) 2>/dev/null
}

ktap_plan 6
require_l2wireguard
ktap_step "two sites; a's port f0 redirected into l2wg0" setup
sizes
ktap_test "frames up to the MTU with two tags arrive byte-exact, longer ones do not" delivered_exactly
ktap_test "the longer ones are dropped and counted in tx_dropped" dropped_and_counted
ktap_test "no outer packet above 1500 bytes, none fragmented" no_fragments
ktap_test "control: an underlay packet of 3000 bytes is fragmented, and counted" fragments_are_seen
ktap_test "max_mtu keeps the outer datagram within an IPv4 packet" max_mtu
ktap_finish
