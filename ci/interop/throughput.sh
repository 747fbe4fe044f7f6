#!/bin/sh
# l2wg: slow timeout=300
# Benchmark (tools/bench-throughput --interop A B): TCP from guest a to guest b over the same underlay, through L3 WireGuard, l2wireguard and l2wireguard bridged between the LAN hosts, 5 rounds interleaved, one flow per CPU (l2wg interop --cpus N); asserts only that every run carried TCP, the Mbit/s go to the console.
. /l2wg/interop/lib.sh
require_tool /usr/bin/iperf3

ROUNDS=5 SECONDS_PER_RUN=4
# One TCP flow per CPU of this guest (iperf3 -P): l2wg interop --cpus N.
FLOWS=$(nproc)
L3_PORT=$((WG_PORT + 10)) L2_PORT=$((WG_PORT + 11))
# NAME:SERVER (the client of a bridged run is the LAN host, h).
LINKS="l3-wireguard:10.31.0.$PEER_N l2wireguard:10.32.0.$PEER_N l2wireguard-bridged:$PEER_IP"

# wg3 and l2wg3, each with the other guest's device of that name as its peer.
devices_up() {
	ip link add wg3 type wireguard && ip link add l2wg3 type l2wireguard &&
		ip addr add "10.31.0.$N/24" dev wg3 && ip addr add "10.32.0.$N/24" dev l2wg3 &&
		peer_device wg3 $L3_PORT allowed-ips 10.31.0.0/24 && peer_device l2wg3 $L2_PORT
}

# servers_up: an iperf3 server where each link ends on this guest.  The
# daemons must not hold the check's output (fd 3, a pipe the init reads to
# its end); teardown ends them.
servers_up() {
	iperf3 -s -D -I "$L2WG_DIR/iperf3.pid" 3>&- &&
		nsx "$HOST" iperf3 -s -D -I "$L2WG_DIR/iperf3-lan.pid" 3>&-
}

# both_answer: the two new devices carry a ping (the first starts the handshake).
both_answer() {
	ping -c 1 -W 1 "10.31.0.$PEER_N" >/dev/null 2>&1 &&
		ping -c 1 -W 1 "10.32.0.$PEER_N" >/dev/null 2>&1
}

# measure LINK ROUND: one iperf3 run over LINK; prints "round ROUND NAME MBIT Mbit/s".
# With several flows the last receiver line is their sum ([SUM]).
measure() {
	name=${1%%:*} server=${1#*:}
	case $name in
	*-bridged) client="nsx $HOST" ;;
	*) client= ;;
	esac
	before=$(cpu_ticks)
	mbit=$($client iperf3 -c "$server" -P "$FLOWS" -t "$SECONDS_PER_RUN" -f m 2>&1 |
		awk '/receiver/ { v = $(NF-2) } END { print v }')
	echo "round $2 $name ${mbit:-0} Mbit/s, this guest's CPUs $(busy_since $before)% busy"
}

# cpu_ticks: this guest's busy and idle ticks so far, all CPUs together.
cpu_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat
}

# busy_since BUSY IDLE: the share of the ticks since cpu_ticks said BUSY
# IDLE that were busy, in percent: with a CPU at 100%, the sender, not the
# path, limits the figure.
busy_since() {
	cpu_ticks | awk -v busy="$1" -v idle="$2" \
		'{ b = $1 - busy; t = b + $2 - idle; printf "%d", t ? 100 * b / t : 0 }'
}

# carried NAME: every round of NAME measured more than 0 Mbit/s.
carried() {
	runs=$(grep -c " $1 [0-9.]* Mbit/s" "$L2WG_DIR/rounds")
	zero=$(grep -c " $1 0 Mbit/s" "$L2WG_DIR/rounds")
	echo "$runs runs, $zero without a figure"
	[ "$runs" = "$ROUNDS" ] && [ "$zero" = 0 ]
}

teardown() {
	for pid in "$L2WG_DIR"/iperf3*.pid; do
		[ -e "$pid" ] && kill "$(cat "$pid")" 2>/dev/null
	done
	ip link del wg3 2>/dev/null
	ip link del l2wg3 2>/dev/null
}

if [ "$L2WG_ROLE" = a ]; then ktap_plan 6; else ktap_plan 4; fi
require_topology
ktap_step "wg3 (L3 wireguard) and l2wg3 (l2wireguard), with the other guest's as their peers" \
	devices_up
[ "$KTAP_FAILED" = 0 ] || { teardown; ktap_abort "no benchmark devices"; }
[ "$L2WG_ROLE" = a ] || ktap_step "iperf3 servers here and on the LAN host" servers_up
ktap_test "both devices carry a ping to the other guest" wait_until 30 both_answer
under_barrier 7 60 || { teardown; ktap_abort "the other site did not get ready (underlay barrier)"; }
if [ "$L2WG_ROLE" = a ]; then
	echo "# bench: $L2WG_UNDERLAY underlay, $(nproc) CPU(s), $FLOWS flow(s); MTU wg3 $(cat /sys/class/net/wg3/mtu)," \
		"l2wg3 $(cat /sys/class/net/l2wg3/mtu), LAN $LAN_MTU"
	: >"$L2WG_DIR/rounds"
	for round in $(seq $ROUNDS); do
		for link in $LINKS; do
			measure "$link" "$round" >>"$L2WG_DIR/rounds"
		done
	done
	sed 's/^/# bench: /' "$L2WG_DIR/rounds"
	for dev in wg3 l2wg3; do
		stats=/sys/class/net/$dev/statistics
		echo "# bench: $dev sent $(cat $stats/tx_packets) packets," \
			"$(cat $stats/tx_bytes) bytes; received $(cat $stats/rx_packets) packets"
	done
	for link in $LINKS; do
		ktap_test "${link%%:*} carried TCP in each of $ROUNDS runs" carried "${link%%:*}"
	done
	ktap_test "the other guest is at the end barrier too" under_barrier 8 30
else
	ktap_test "served the other guest's runs to their end" \
		under_barrier 8 $((ROUNDS * 3 * (SECONDS_PER_RUN + 4) + 30))
fi
teardown
ktap_finish
