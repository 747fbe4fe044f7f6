#!/bin/sh
# l2wg: slow timeout=400
# 10,000 random frames from an authenticated peer: sizes up to the MTU + 64, random EtherTypes and VLAN stacks. Each well-formed one arrives byte-exact, each too long is dropped and counted, and the kernel reports nothing (run it on the debug kernel).
. /l2wg/checks/lib.sh
require_config CONFIG_VETH CONFIG_PACKET CONFIG_NET_SCH_INGRESS CONFIG_NET_CLS_MATCHALL CONFIG_NET_ACT_MIRRED
require_tool "$RAWFRAME" /usr/sbin/tc

COUNT=10000
SEED=20261130

setup() {
	l2_underlay a b
	# No frames of the sites' own stacks (IPv6 neighbour and router
	# solicitations) among the ones counted.
	for ns in a b; do
		nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
	done
	l2_redirected_pair
	reaches a -c 1 192.168.0.2 >/dev/null
	# A first frame makes the handshake, so that the run is all data.
	"$RAWFRAME" fuzz 1 1 60 >"$L2WG_DIR/hello"
	rawframe_recv b l2wg0 1 "$L2WG_DIR/rx-hello" 10000
	rawframe_send a f0 "$L2WG_DIR/hello"
	wait "$RAWFRAME_PID"
	grep -q . "$L2WG_DIR/rx-hello"
}

fuzz() {
	"$RAWFRAME" fuzz "$COUNT" "$SEED" $((MTU + 64)) >"$L2WG_DIR/frames"
	awk -v max="$MAX" 'length($0) / 2 <= max' "$L2WG_DIR/frames" | sort >"$L2WG_DIR/good"
	GOOD=$(grep -c . "$L2WG_DIR/good")
	BAD=$((COUNT - GOOD))
	dropped=$(stat_of a l2wg0 tx_dropped)
	rx_errors=$(stat_of b l2wg0 rx_errors)
	rawframe_recv b l2wg0 "$GOOD" "$L2WG_DIR/rx" $((20000 * ${L2WG_SLOWDOWN:-1}))
	# Paced, so that neither a's staging queue nor b's socket overflows.
	rawframe_send a f0 "$L2WG_DIR/frames" 300
	wait "$RAWFRAME_PID"
}

good_ones_arrive() {
	got=$(grep -c . "$L2WG_DIR/rx")
	echo "$GOOD frames of at most $MAX bytes sent, $got received"
	sort "$L2WG_DIR/rx" >"$L2WG_DIR/rx.sorted"
	cmp -s "$L2WG_DIR/rx.sorted" "$L2WG_DIR/good" && return
	# The frames that differ: missing (-) or not sent (+), length and start.
	diff "$L2WG_DIR/good" "$L2WG_DIR/rx.sorted" | grep '^[-+][0-9a-f]' | head -n 8 |
		awk '{ print substr($0, 1, 1) " " (length($0) - 1) / 2 " bytes: " substr($0, 2, 64) }'
	return 1
}

long_ones_counted() {
	now=$(stat_of a l2wg0 tx_dropped)
	echo "$BAD frames longer than $MAX bytes; a's tx_dropped $dropped -> $now; b's rx_errors $rx_errors -> $(stat_of b l2wg0 rx_errors)"
	[ "$now" -eq $((dropped + BAD)) ] && [ "$(stat_of b l2wg0 rx_errors)" = "$rx_errors" ]
}

ktap_plan 3
require_l2wireguard
ktap_step "two sites; a's port f0 redirected into l2wg0" setup
fuzz
ktap_test "every well-formed frame arrives byte-exact" good_ones_arrive
ktap_test "every frame too long is dropped and counted" long_ones_counted
ktap_finish
