#!/bin/sh
# Raw frames of several ethertypes and 802.3/LLC, from the minimum size to
# the MTU and ending in zero bytes, arrive byte-exact on the other site.
. /l2wg/checks/lib.sh
require_config CONFIG_BRIDGE CONFIG_VETH CONFIG_PACKET
require_tool "$RAWFRAME"

SRC=024c32574701     # only the test frames carry this source MAC
BCAST=ffffffffffff
LLDP=0180c200000e
EAPOL=0180c2000003

# frame DST TYPE LEN ZEROS SEED: a frame from $SRC (eth_frame).
frame() {
	eth_frame "$SRC" "$@"
}

# expect NAME FRAME...: add frames to the sent set under a test name.
expect() {
	name=$1
	shift
	for f in "$@"; do
		echo "$name|$f" >>"$L2WG_DIR/expected"
		echo "$f" >>"$L2WG_DIR/sent"
	done
}

# arrived NAME: each frame of NAME was received exactly once, byte for byte.
arrived() {
	grep -F "$1|" "$L2WG_DIR/expected" | while IFS='|' read -r _ f; do
		n=$(grep -cFx "$f" "$L2WG_DIR/received")
		if [ "$n" != 1 ]; then
			echo "a $(( ${#f} / 2 ))-byte frame arrived $n times: $(echo "$f" | cut -c1-64)..."
			return 1
		fi
	done
}

ktap_plan 10
require_l2wireguard
l2_sites 4
MAX=$((L2_MTU + 14))
HB=$(mac_hex "$(mac_of hb eth0)")
: >"$L2WG_DIR/sent"
: >"$L2WG_DIR/expected"
expect "0x88b5 unicast, 60 bytes to the MTU" \
	"$(frame "$HB" 88b5 60 0 1)" "$(frame "$HB" 88b5 61 0 2)" "$(frame "$HB" 88b5 64 3 3)" \
	"$(frame "$HB" 88b5 128 0 4)" "$(frame "$HB" 88b5 1000 0 5)" \
	"$(frame "$HB" 88b5 $((MAX - 1)) 0 6)" "$(frame "$HB" 88b5 "$MAX" 0 7)"
expect "frames ending in zero bytes" \
	"$(frame "$HB" 88b5 60 46 8)" "$(frame "$HB" 88b5 61 1 9)" "$(frame "$HB" 88b5 200 100 10)" \
	"$(frame "$HB" 88b5 "$MAX" 64 11)"
expect "0x88b5 broadcast" "$(frame $BCAST 88b5 60 0 12)" "$(frame $BCAST 88b5 "$MAX" 0 13)"
expect "LLDP 0x88cc" "$(frame $LLDP 88cc 60 0 14)" "$(frame $LLDP 88cc 300 20 15)"
expect "MPLS 0x8847" "$(frame "$HB" 8847 64 0 16)" "$(frame "$HB" 8847 "$MAX" 0 17)"
expect "EAPOL 0x888e" "$(frame $EAPOL 888e 60 0 18)" "$(frame $EAPOL 888e 113 0 19)"
expect "STP BPDU (802.3/LLC)" "$(stp_bpdu "$SRC")"
expect "802.3/LLC with length field" "$(frame "$HB" 0064aaaa03 114 0 20)" \
	"$(frame "$HB" 002e424203 60 10 21)"
expect "802.1Q tagged 0x88b5" "$(frame "$HB" 8100006488b5 64 0 22)" \
	"$(frame "$HB" 8100006488b5 300 8 23)"
COUNT=$(wc -l <"$L2WG_DIR/sent")

rawframe_recv hb eth0 "$COUNT" "$L2WG_DIR/received" 10000 "$SRC"
rawframe_send ha eth0 "$L2WG_DIR/sent"
wait "$RAWFRAME_PID"

for name in "0x88b5 unicast, 60 bytes to the MTU" "frames ending in zero bytes" \
	"0x88b5 broadcast" "LLDP 0x88cc" "MPLS 0x8847" "EAPOL 0x888e" "STP BPDU (802.3/LLC)" \
	"802.3/LLC with length field" "802.1Q tagged 0x88b5"; do
	ktap_test "$name" arrived "$name"
done
ktap_test "all $COUNT frames arrived, in order, nothing else" cmp "$L2WG_DIR/sent" "$L2WG_DIR/received"
ktap_finish
