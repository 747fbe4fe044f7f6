#!/bin/sh
# bridge fdb on l2wireguard as iproute2 users expect: add/replace/del with states honoured, unsupported flags refused with a message, notifications on learn, delete and link down (bridge monitor fdb), and dumps with the true state and age.
. /l2wg/checks/lib.sh
require_config CONFIG_VETH CONFIG_BRIDGE

M=02:aa:00:00:00:01
M2=02:aa:00:00:00:02
M3=02:aa:00:00:00:04

setup() {
	l2_underlay a b c
	for s in a b c; do l2_device "$s"; done
	l2_peering a b c
	l2_peering b a
	l2_peering c a
	# Listening before anything is learned: the first frames (neighbour
	# discovery) come as soon as the devices are up.
	ip netns exec a /usr/sbin/bridge monitor fdb >"$L2WG_DIR/monitor" 2>&1 &
	MONITOR=$!
	sleep 0.5
	l2_mesh_up
}

fdb_line() {
	bridge -n a fdb show dev l2wg0 | grep -i "^$1 "
}

# expect_error MESSAGE CMD...: CMD fails and says MESSAGE.
expect_error() {
	want=$1
	shift
	if out=$("$@" 2>&1); then
		echo "succeeded: $*"
		return 1
	fi
	echo "$out"
	echo "$out" | grep -q "$want"
}

add_permanent() {
	bridge -n a fdb add $M dev l2wg0 dst 192.168.0.2 self || return 1
	fdb_line $M
	fdb_line $M | grep -q "dst 192.168.0.2 port 51820 self permanent"
}

add_static_and_dynamic() {
	bridge -n a fdb add $M2 dev l2wg0 dst 192.168.0.3 self static || return 1
	fdb_line $M2 | grep -q "dst 192.168.0.3 port 51820 self static$" || return 1
	bridge -n a fdb replace $M2 dev l2wg0 dst 192.168.0.3 self dynamic || return 1
	fdb_line $M2
	! fdb_line $M2 | grep -q "permanent\|static"
}

replace_moves() {
	bridge -n a fdb replace $M dev l2wg0 dst 192.168.0.3 self || return 1
	fdb_line $M
	fdb_line $M | grep -q "dst 192.168.0.3 "
}

learned_age() {
	line=$(bridge -n a -s fdb show dev l2wg0 | grep "dst 192.168.0.2 " | grep -vi "^$M ")
	echo "$line"
	# "used U/V": the age in seconds of the last frame to and from it.
	updated=$(echo "$line" | sed -n 's/.*used [0-9]*\/\([0-9]*\).*/\1/p')
	[ -n "$updated" ] && [ "$updated" -lt 30 ] && ! echo "$line" | grep -q permanent
}

del_and_told() {
	bridge -n a fdb del $M dev l2wg0 self || return 1
	! fdb_line $M && monitor_saw "^Deleted $M dev l2wg0.* dst 192.168.0.3"
}

# monitor_saw PATTERN: bridge monitor fdb printed a line matching it.
monitor_saw() {
	wait_until 5 grep -qi "$1" "$L2WG_DIR/monitor" || { cat "$L2WG_DIR/monitor"; return 1; }
}

# While b keeps sending: nothing learned stays, nothing is learned again.
down_forgets_and_tells() {
	bridge -n a fdb add $M3 dev l2wg0 dst 192.168.0.2 self static || return 1
	ip netns exec b ping -q -i 0.1 -w 3 10.0.0.1 >/dev/null 2>&1 &
	talker=$!
	sleep 0.5
	ip -n a link set l2wg0 down
	sleep 1
	bridge -n a fdb show dev l2wg0
	kill "$talker" 2>/dev/null
	monitor_saw "^Deleted $(mac_of b l2wg0) dev l2wg0.* dst 192.168.0.2" &&
		[ "$(fdb_count a 192.168.0.2)" = 1 ] && fdb_line $M3 | grep -q static
}

ktap_plan 11
require_l2wireguard
ktap_step "three peers, and bridge monitor fdb on a" setup
ktap_test "a learned b's MAC and told" monitor_saw "^$(mac_of b l2wg0) dev l2wg0.* dst 192.168.0.2"
ktap_test "add: a permanent entry" add_permanent
ktap_test "add again: refused, with a message" expect_error "already has an entry" \
	bridge -n a fdb add $M dev l2wg0 dst 192.168.0.2 self
ktap_test "add static, then replace as dynamic: states honoured" add_static_and_dynamic
ktap_test "sticky: refused, with a message" expect_error "not supported" \
	bridge -n a fdb add 02:aa:00:00:00:03 dev l2wg0 dst 192.168.0.2 self sticky
ktap_test "append: refused, with a message" expect_error "append is not supported" \
	bridge -n a fdb append 02:aa:00:00:00:03 dev l2wg0 dst 192.168.0.2 self
ktap_test "replace moves an entry to another peer" replace_moves
ktap_test "a learned entry is dumped with its age, not as permanent" learned_age
ktap_test "del removes it, and is told" del_and_told
ktap_test "link down forgets learned entries, tells, keeps static ones" down_forgets_and_tells
kill "$MONITOR" 2>/dev/null
ktap_finish
