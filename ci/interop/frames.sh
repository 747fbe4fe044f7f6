#!/bin/sh
# l2wg: timeout=120
# Raw frames of several ethertypes, 802.3/LLC, 802.1Q, from the minimum size to the MTU and ending in zero bytes, sent by each LAN host to the other site's, arrive byte-exact, once, in order.
. /l2wg/interop/lib.sh
require_config CONFIG_PACKET
require_tool "$RAWFRAME"

# Each site's test frames have a source MAC of their own.
SRC=024c3257470$N
PEER_SRC=024c3257470$PEER_N
BCAST=ffffffffffff
LLDP=0180c200000e
EAPOL=0180c2000003

GROUPS="0x88b5 unicast, 60 bytes to the MTU|frames ending in zero bytes|0x88b5 broadcast|LLDP 0x88cc|MPLS 0x8847|EAPOL 0x888e|STP BPDU (802.3/LLC)|802.3/LLC with length field|802.1Q tagged 0x88b5"

# frames FROM TO_MAC: every test frame FROM sends to the host with TO_MAC,
# as GROUP|HEX lines.  Both sites make the same set, each with its own
# source, so each knows exactly what the other sends.
frames() {
	f=$1 to=$(mac_hex "$2")
	for args in "88b5 60 0 1" "88b5 61 0 2" "88b5 64 3 3" "88b5 128 0 4" "88b5 1000 0 5" \
		"88b5 $((MAX - 1)) 0 6" "88b5 $MAX 0 7"; do
		set -- $args
		echo "0x88b5 unicast, 60 bytes to the MTU|$(eth_frame "$f" "$to" "$1" "$2" "$3" "$4")"
	done
	for args in "60 46 8" "61 1 9" "200 100 10" "$MAX 64 11"; do
		set -- $args
		echo "frames ending in zero bytes|$(eth_frame "$f" "$to" 88b5 "$1" "$2" "$3")"
	done
	echo "0x88b5 broadcast|$(eth_frame "$f" $BCAST 88b5 60 0 12)"
	echo "0x88b5 broadcast|$(eth_frame "$f" $BCAST 88b5 "$MAX" 0 13)"
	echo "LLDP 0x88cc|$(eth_frame "$f" $LLDP 88cc 60 0 14)"
	echo "LLDP 0x88cc|$(eth_frame "$f" $LLDP 88cc 300 20 15)"
	echo "MPLS 0x8847|$(eth_frame "$f" "$to" 8847 64 0 16)"
	echo "MPLS 0x8847|$(eth_frame "$f" "$to" 8847 "$MAX" 0 17)"
	echo "EAPOL 0x888e|$(eth_frame "$f" $EAPOL 888e 60 0 18)"
	echo "EAPOL 0x888e|$(eth_frame "$f" $EAPOL 888e 113 0 19)"
	echo "STP BPDU (802.3/LLC)|$(stp_bpdu "$f")"
	echo "802.3/LLC with length field|$(eth_frame "$f" "$to" 0064aaaa03 114 0 20)"
	echo "802.3/LLC with length field|$(eth_frame "$f" "$to" 002e424203 60 10 21)"
	echo "802.1Q tagged 0x88b5|$(eth_frame "$f" "$to" 8100006488b5 64 0 22)"
	echo "802.1Q tagged 0x88b5|$(eth_frame "$f" "$to" 8100006488b5 300 8 23)"
}

# arrived GROUP: each frame of GROUP the other site sent arrived exactly once.
arrived() {
	grep -F "$1|" "$L2WG_DIR/expected.groups" | while IFS='|' read -r _ f; do
		n=$(grep -cFx "$f" "$L2WG_DIR/received")
		if [ "$n" != 1 ]; then
			echo "a $(( ${#f} / 2 ))-byte frame arrived $n times: $(echo "$f" | cut -c1-64)..."
			return 1
		fi
	done
}

ktap_plan 11
require_topology
MAX=$((LAN_MTU + 14))
frames "$SRC" "$PEER_MAC" | cut -d'|' -f2 >"$L2WG_DIR/sent"
frames "$PEER_SRC" "$HOST_MAC" >"$L2WG_DIR/expected.groups"
cut -d'|' -f2 "$L2WG_DIR/expected.groups" >"$L2WG_DIR/expected"
COUNT=$(wc -l <"$L2WG_DIR/expected")
# Listening before telling the other site to send; then wait for it to be
# listening too.  The receiver stops after COUNT frames or 60 s of quiet.
rawframe_recv_remote "$HOST" eth0 "$COUNT" "$L2WG_DIR/received" 60000 "$PEER_SRC" ||
	ktap_abort "the receiver did not start"
ktap_step "the other site is ready to receive" barrier 1 60
# A short pause after each frame: a slow underlay (PPP on a serial port)
# must not overflow the queues in front of it.
rawframe_send "$HOST" eth0 "$L2WG_DIR/sent" 2000
wait "$RAWFRAME_PID"
echo "$GROUPS" | tr '|' '\n' >"$L2WG_DIR/groups"
while read -r group; do
	ktap_test "$group" arrived "$group"
done <"$L2WG_DIR/groups"
ktap_test "all $COUNT frames of the other site arrived, in order, nothing else" \
	same_frames "$L2WG_DIR/expected" "$L2WG_DIR/received"
ktap_finish
