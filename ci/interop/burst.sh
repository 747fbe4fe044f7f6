#!/bin/sh
# l2wg: timeout=180
# Frame order under a burst: this site's LAN host sends 150 frames back to back, no pause between them, of three kinds in turn (an EtherType of its own, MPLS, 802.3/LLC SNAP), through the tc redirect into l2wg1; the other site's LAN host gets them all on its NIC, byte-exact, in the order sent.  Every hop in this guest is watched too, so a failure says where the order broke; the frames are asserted on lanh, the LAN host's NIC, as the redirect checks receive them; the last hop, a packet socket on lanh.100, is only reported (see lan_host_receives in lib.sh).
. /l2wg/interop/lib.sh
require_config CONFIG_PACKET CONFIG_VLAN_8021Q CONFIG_NET_SCH_INGRESS CONFIG_NET_CLS_MATCHALL \
	CONFIG_NET_ACT_MIRRED
require_tool "$RAWFRAME" /usr/sbin/tc
require_lan_port

BURST=150

# FROM=SRC TO=DST burst_frames: the burst SRC sends to DST, as hex, one
# frame a line; each frame's payload is its own (rawframe's pattern seeded
# with its number), so a frame's place in the burst tells it apart.
burst_frames() {
	i=1
	while [ $i -le $BURST ]; do
		case $((i % 3)) in
		0) type=88b5 len=$((60 + i)) ;;
		1) type=8847 len=64 ;;
		2) type=0064aaaa03 len=114 ;;
		esac
		header=$TO$FROM$type
		echo "$header$("$RAWFRAME" fill $((len - ${#header} / 2)) "$i" 0)"
		i=$((i + 1))
	done
}

# watch NAME NS DEV SRC MODE: capture the burst from SRC as DEV receives it
# (MODE recv) or sends it (sent) into $L2WG_DIR/hop-NAME, until all of it
# is in or 30 s have passed without a frame of it.
watch() {
	rawframe_start "$5" "$2" "$3" $BURST "$L2WG_DIR/hop-$1" 30000 "$4" || return 1
	WATCHERS="$WATCHERS $RAWFRAME_PID"
}

# The hops of this site's burst, then those of the other site's, in the
# order the frames cross them.
OUT_HOPS="1-lanh.100-out 2-lan0.100-in 3-l2wg1-out"
IN_HOPS="4-l2wg1-in 5-lan0.100-out 6-lan0-out 7-lanh-in 8-lanh.100-in"

# watch_every_hop: a watcher on each hop, in the hop's namespace (this
# site's own gets a name for it: rawframe_start runs in a named one).
watch_every_hop() {
	WATCHERS=
	ip netns attach site $$ &&
		watch 1-lanh.100-out "$LAN" lanh.$VID "$LAN_SRC" sent &&
		watch 2-lan0.100-in site lan0.$VID "$LAN_SRC" recv &&
		watch 3-l2wg1-out site l2wg1 "$LAN_SRC" sent &&
		watch 4-l2wg1-in site l2wg1 "$LAN_PEER_SRC" recv &&
		watch 5-lan0.100-out site lan0.$VID "$LAN_PEER_SRC" sent &&
		watch 6-lan0-out site lan0 "$LAN_PEER_SRC" sent &&
		watch 7-lanh-in "$LAN" lanh "$LAN_PEER_SRC" recv &&
		watch 8-lanh.100-in "$LAN" lanh.$VID "$LAN_PEER_SRC" recv
}

# hop_order EXPECTED HOP: how many of the burst crossed HOP, and whether in
# the order of EXPECTED; the first frame that came after a later one.  On
# lan0 and lanh the frames carry VLAN 100's tag, which EXPECTED has not.
hop_order() {
	awk -v hop="${2##*/hop-}" -v tag="8100$(printf %04x $VID)" '
		NR == FNR { place[$0] = FNR; n = FNR; next }
		{ got++ }
		substr($0, 25, 8) == tag { $0 = substr($0, 1, 24) substr($0, 33) }
		!($0 in place) { stray++; next }
		got <= 30 { order = order " " place[$0] }
		place[$0] < last && !first { first = sprintf("frame %d after frame %d", place[$0], last) }
		place[$0] > last { last = place[$0] }
		END {
			printf "%s: %d of %d frames", hop, got, n
			if (stray) printf ", %d not of the burst", stray
			print first ? ", out of order: first " first "; the first 30:" order : ", in order"
		}' "$1" "$2"
}

ktap_plan 7
require_topology
tc_redirect_site
FROM=$LAN_SRC TO=$LAN_PEER_HOST burst_frames >"$L2WG_DIR/sent"
FROM=$LAN_PEER_SRC TO=$LAN_HOST burst_frames >"$L2WG_DIR/expected"
on_lanh <"$L2WG_DIR/expected" >"$L2WG_DIR/expected-on-lanh"
lan_step_or_abort "no capture" "watching every hop" watch_every_hop
ktap_step "the other site is ready to send and receive" barrier 9 60
rawframe_send "$LAN" lanh.$VID "$L2WG_DIR/sent"
for pid in $WATCHERS; do wait "$pid"; done
for hop in $OUT_HOPS; do
	echo "# $(hop_order "$L2WG_DIR/sent" "$L2WG_DIR/hop-$hop")"
done
for hop in $IN_HOPS; do
	echo "# $(hop_order "$L2WG_DIR/expected" "$L2WG_DIR/hop-$hop")"
done
ktap_test "all $BURST frames of the other site's burst reached its LAN host byte-exact, in order, nothing else" \
	same_frames "$L2WG_DIR/expected-on-lanh" "$L2WG_DIR/hop-7-lanh-in"
ip netns del site
lan_teardown
ktap_finish
