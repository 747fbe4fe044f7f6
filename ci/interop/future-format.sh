#!/bin/sh
# l2wg: timeout=180
# A peer of a newer wire format (ci/test-patches/future-format.patch, a flag in the L2 header's reserved byte) is never misparsed: the older peer drops each of its frames, counts it in rx_frame_errors and learns nothing from it, while the newer peer still takes the older format byte-exact.
. /l2wg/interop/lib.sh
require_config CONFIG_PACKET
require_tool "$RAWFRAME"

# The newer side is the guest with the future-format patch; the older one
# the other guest: today's module, or a test-patched one (reserved-ignored,
# this check's positive control: a receiver the check must fail).
FUTURE=future-format
if [ "$L2WG_TEST_PATCH" = "$FUTURE" ] && [ "$L2WG_PEER_TEST_PATCH" != "$FUTURE" ]; then
	SIDE=newer
elif [ "$L2WG_PEER_TEST_PATCH" = "$FUTURE" ] && [ "$L2WG_TEST_PATCH" != "$FUTURE" ]; then
	SIDE=older
else
	ktap_skip_all "needs one guest with ci/test-patches/$FUTURE.patch and one without: l2wg interop dkms:K+$FUTURE B"
fi

# Each site's test frames have a source MAC of their own.
SRC_MAC=02:4c:32:57:48:0$N
PEER_SRC_MAC=02:4c:32:57:48:0$PEER_N
COUNT=20

# frames FROM TO: COUNT frames, 60 bytes to the MTU, unicast and broadcast.
frames() {
	i=0
	for len in 60 61 64 100 128 256 512 1000 1200 $((MAX - 1)) $MAX; do
		for to in "$2" ffffffffffff; do
			i=$((i + 1))
			[ "$i" -le "$COUNT" ] || return 0
			eth_frame "$1" "$to" 88b5 "$len" $((i % 3)) "$i"
		done
	done
}

rx_frame_errors() {
	cat /sys/class/net/l2wg0/statistics/rx_frame_errors
}

# older_counted: l2wg0 counted at least the COUNT frames of the newer format.
older_counted() {
	errors=$(rx_frame_errors)
	echo "rx_frame_errors $ERRORS0 -> $errors; rx_length_errors" \
		"$(cat /sys/class/net/l2wg0/statistics/rx_length_errors)"
	[ $((errors - ERRORS0)) -ge "$COUNT" ]
}

# nothing_arrived: the receiver got nothing from the other site's address
# but the end marker this site sent its LAN host itself, after step 2.
nothing_arrived() {
	cmp -s "$L2WG_DIR/end" "$L2WG_DIR/received" && return
	echo "$(grep -cvxF "$(cat "$L2WG_DIR/end")" "$L2WG_DIR/received") frame(s) of the" \
		"newer format arrived (the receiver stops at the first)"
	return 1
}

nothing_learned() {
	fdb=$(bridge fdb show dev l2wg0)
	echo "$fdb" | grep -i "$PEER_SRC_MAC" && return 1
	return 0
}

ktap_plan 5
require_site
MAX=$((LAN_MTU + 14))
frames "$(mac_hex "$SRC_MAC")" "$(mac_hex "$PEER_MAC")" >"$L2WG_DIR/sent"
frames "$(mac_hex "$PEER_SRC_MAC")" "$(mac_hex "$HOST_MAC")" >"$L2WG_DIR/expected"
ERRORS0=$(rx_frame_errors)
if [ "$SIDE" = newer ]; then
	# the older site's frames: all of them, in the time the receiver gives
	rawframe_recv_remote "$HOST" eth0 "$COUNT" "$L2WG_DIR/received" 60000 "$(mac_hex "$PEER_SRC_MAC")"
else
	# the newer site's: none, however long it waits; ended after step 2
	rawframe_recv_remote "$HOST" eth0 1 "$L2WG_DIR/received" 600000 "$(mac_hex "$PEER_SRC_MAC")"
fi || ktap_abort "the receiver did not start"
# The two sites meet across the underlay: the tunnel carries one direction only.
under_barrier 1 90 || ktap_abort "the other site did not reach step 1 (underlay barrier)"
rawframe_send "$HOST" eth0 "$L2WG_DIR/sent" 2000
under_barrier 2 90 || ktap_abort "the other site did not reach step 2 (underlay barrier)"
if [ "$SIDE" = older ]; then
	# The receiver's end: a frame from the address it waits for, sent by
	# this site straight to its LAN host (lan-h is the host's veth peer).
	eth_frame "$(mac_hex "$PEER_SRC_MAC")" "$(mac_hex "$HOST_MAC")" 88b5 60 0 99 >"$L2WG_DIR/end"
	"$RAWFRAME" send lan-h "$L2WG_DIR/end" || ktap_abort "could not end the receiver"
fi
wait "$RAWFRAME_PID"
echo "# $SIDE side: rx_frame_errors $ERRORS0 -> $(rx_frame_errors)," \
	"$(($(wc -l <"$L2WG_DIR/received"))) frame(s) from the other site's address arrived"

ktap_test "the handshake completes across the two formats" wait_until 30 handshake_done_on l2wg0
if [ "$SIDE" = older ]; then
	ktap_test "the older peer drops each frame of the newer format and counts it in rx_frame_errors" \
		wait_until 10 older_counted
	ktap_test "no frame of the newer format reaches the older peer's LAN" nothing_arrived
	ktap_test "the older peer learns no MAC address from the newer format" nothing_learned
	ktap_skip "the newer peer takes every frame of the older format byte-exact" \
		"asserted by the newer guest"
else
	for name in "the older peer drops each frame of the newer format and counts it in rx_frame_errors" \
		"no frame of the newer format reaches the older peer's LAN" \
		"the older peer learns no MAC address from the newer format"; do
		ktap_skip "$name" "asserted by the older guest"
	done
	ktap_test "the newer peer takes every frame of the older format byte-exact" \
		same_frames "$L2WG_DIR/expected" "$L2WG_DIR/received"
fi
ktap_finish
