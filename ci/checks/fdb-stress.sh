#!/bin/sh
# l2wg: slow timeout=300
# 30 s of races on the FDB: one peer sends from new MACs without pause while FDB dumps and link down/up loop on the other side; nothing may crash or splat (run it on the debug kernel), and the tunnel works afterwards.
. /l2wg/checks/lib.sh
require_config CONFIG_VETH CONFIG_PACKET
require_tool "$RAWFRAME"

SECONDS_TO_RUN=30

setup() {
	l2_full_mesh
	l2_mesh_up
}

until_deadline() {
	end=$(($(uptime_s) + SECONDS_TO_RUN))
	while [ "$(uptime_s)" -lt "$end" ]; do "$@"; done
}

flood_once() {
	seed=$((seed + 1))
	nsx c "$RAWFRAME" macflood l2wg0 500 "$DST" "$seed" 2>/dev/null
}

dump_once() {
	bridge -n a fdb show dev l2wg0 >/dev/null
	dumps=$((dumps + 1))
}

flap_once() {
	ip -n a link set l2wg0 down
	sleep 0.1
	ip -n a link set l2wg0 up
	sleep 0.2
}

stress() {
	DST=$(mac_hex "$(mac_of a l2wg0)") seed=0 dumps=0
	(until_deadline flood_once) &
	flooder=$!
	(until_deadline flap_once) &
	flapper=$!
	(nsx b ping -q -i 0.05 -w "$SECONDS_TO_RUN" 10.0.0.1 >/dev/null 2>&1) &
	pinger=$!
	until_deadline dump_once
	wait "$flooder" "$flapper" "$pinger"
	echo "$SECONDS_TO_RUN s: $dumps dumps while c flooded and a flapped"
}

works_after() {
	ip -n a link set l2wg0 up
	wait_until 10 nsx b ping -c 1 -W 1 10.0.0.1 >/dev/null &&
		bridge -n a fdb show dev l2wg0 | grep -q "dst 192.168.0.2 "
}

ktap_plan 3
require_l2wireguard
ktap_step "three peers in a full mesh" setup
ktap_test "floods, dumps and link flaps for $SECONDS_TO_RUN s" stress
ktap_test "afterwards b reaches a, and a learns b again" works_after
ktap_finish
