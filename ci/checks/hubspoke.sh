#!/bin/sh
# Hub and spoke: spokes that know only the hub reach each other through it (the hub's bridge port in hairpin mode) and never get their own frames back; a full mesh has no duplicates.
. /l2wg/checks/lib.sh
require_config CONFIG_VETH CONFIG_BRIDGE CONFIG_PACKET
require_tool "$RAWFRAME"

# Hub h (LAN host 10.0.0.1) and spokes s (10.0.0.2) and t (10.0.0.3), which
# are peers of the hub only.  The hub's bridge sends frames back out of the
# port they came in on: l2wg0 in hairpin mode.
setup() {
	l2_underlay h s t
	for site in h s t; do l2_device "$site"; done
	l2_peering h s t
	l2_peering s h
	l2_peering t h
	l2_lan h 1
	l2_lan s 2
	l2_lan t 3
	bridge -n h link set dev l2wg0 hairpin on
}

spokes_reach_each_other() {
	reaches hs -c 3 -i 0.3 10.0.0.3
}

# broadcast_echo: hs sends broadcast frames; how many s's l2wg0 receives back
# (frames with hs's source MAC coming in from the tunnel), and t's host gets.
broadcast_echo() {
	src=$(mac_hex "$(mac_of hs eth0)")
	: >"$L2WG_DIR/bcast"
	for i in 1 2 3; do
		echo "ffffffffffff${src}88b7$("$RAWFRAME" fill 46 $i 0)" >>"$L2WG_DIR/bcast"
	done
	rawframe_recv s l2wg0 3 "$L2WG_DIR/echo-s" 1500 "$src"
	pid_s=$RAWFRAME_PID
	rawframe_recv ht eth0 3 "$L2WG_DIR/got-t" 10000 "$src"
	pid_t=$RAWFRAME_PID
	rawframe_send hs eth0 "$L2WG_DIR/bcast"
	wait "$pid_s"
	wait "$pid_t"
	echo "s got $(grep -c . "$L2WG_DIR/echo-s") of its own frames back; t's host got $(grep -c . "$L2WG_DIR/got-t") of 3"
	[ "$(grep -c . "$L2WG_DIR/echo-s")" = 0 ] && [ "$(grep -c . "$L2WG_DIR/got-t")" = 3 ]
}

# The same sites as a full mesh (s and t peers of each other too), the hub's
# port out of hairpin mode: every reply arrives once.
full_mesh_no_duplicates() {
	bridge -n h link set dev l2wg0 hairpin off
	l2_peering s t
	l2_peering t s
	# What s and t learned through the hub no longer holds: taking their
	# devices down and up forgets it.
	for site in s t; do
		ip -n "$site" link set l2wg0 down
		ip -n "$site" link set l2wg0 up
	done
	out=$(reaches hs -c 5 -i 0.3 10.0.0.3)
	echo "$out" | tail -n 3
	! echo "$out" | grep -q "DUP!" && echo "$out" | grep -q " 5 received"
}

ktap_plan 4
require_l2wireguard
ktap_step "a hub and two spokes, the hub's l2wg0 in hairpin mode" setup
ktap_test "the spokes reach each other through the hub" spokes_reach_each_other
ktap_test "a spoke never gets its own broadcast back" broadcast_echo
ktap_test "as a full mesh, no reply is duplicated" full_mesh_no_duplicates
ktap_finish
