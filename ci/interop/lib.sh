# Shared helpers of the interop checks (l2wg interop).  Two guests, each
# running its own kernel, are the two sites of one bridged l2wireguard link:
#
#   h -- br0 [guest a] l2wg0 ==wg over u0== l2wg0 [guest b] br0 -- h
#
# u0 is the underlay between the VMs (a virtio-net NIC, or PPP on ttyS1);
# h is the site's LAN host, a network namespace.  The topology check sets
# the site up once; the other checks use it and leave it as they found it.
# Each guest runs the same checks from its own side, so every check runs in
# both directions.  Sourced after ci/checks/lib.sh (KTAP, waits, rawframe).
. /l2wg/checks/lib.sh
. /l2wg/run.conf

case $L2WG_ROLE in
a) N=1 PEER_N=2 ;;
b) N=2 PEER_N=1 ;;
*) ktap_abort "run.conf: L2WG_ROLE must be a or b, not '$L2WG_ROLE'" ;;
esac
HOST=h
HOST_IP=10.0.0.$N PEER_IP=10.0.0.$PEER_N
HOST_IP6=fd10::$N PEER_IP6=fd10::$PEER_N
HOST_MAC=02:4c:32:00:0a:0$N PEER_MAC=02:4c:32:00:0a:0$PEER_N
UNDER_IP=192.168.0.$N UNDER_PEER_IP=192.168.0.$PEER_N
UNDER_IP6=fd00::$N UNDER_PEER_IP6=fd00::$PEER_N
WG_PORT=51820
# The other guest's underlay address, of the endpoints' family (L2WG_FAMILY).
if [ "$L2WG_FAMILY" = 6 ]; then ENDPOINT_ADDR=$UNDER_PEER_IP6; else ENDPOINT_ADDR=$UNDER_PEER_IP; fi
# endpoint_at PORT: that address and PORT, as wg takes an endpoint.
endpoint_at() {
	case $ENDPOINT_ADDR in
	*:*) echo "[$ENDPOINT_ADDR]:$1" ;;
	*) echo "$ENDPOINT_ADDR:$1" ;;
	esac
}
ENDPOINT=$(endpoint_at $WG_PORT)
TOPOLOGY_OK=/run/l2wg/topology.ok
# The site is set up and the handshake done, though frames may not cross:
# with a test-patched peer (run.conf's L2WG_TEST_PATCH, L2WG_PEER_TEST_PATCH)
# the two guests do not speak one format.
SITE_OK=/run/l2wg/site.ok

# require_topology: the site is up (else every test fails with that reason).
require_topology() {
	[ -e "$TOPOLOGY_OK" ] || ktap_abort "the site is not up (see the topology check)"
	LAN_MTU=$(cat /sys/class/net/l2wg0/mtu)
}

# require_site: the site is set up and the handshake done, frames crossing or not.
require_site() {
	[ -e "$SITE_OK" ] || ktap_abort "the site is not set up (see the topology check)"
	LAN_MTU=$(cat /sys/class/net/l2wg0/mtu)
}

# under_barrier K SECONDS: as barrier, but across the underlay, for a pair
# whose tunnel does not carry frames both ways: this site is ready for step K
# (u0 gets the address 192.168.0.(10K+N)), then wait at most SECONDS until
# the other site's 192.168.0.(10K+PEER_N) answers.
under_barrier() {
	ip addr add "192.168.0.$((10 * $1 + N))/32" dev u0 2>/dev/null
	ip route add "192.168.0.$((10 * $1 + PEER_N))/32" dev u0 2>/dev/null
	wait_until "$2" under_answers 4 "192.168.0.$((10 * $1 + PEER_N))"
}

under_answers() {
	ping "-$1" -c 1 -W 1 "$2" >/dev/null 2>&1
}

# nic_by_mac MAC NAME: the network device with MAC (as the host gave it to
# QEMU) renamed NAME.
nic_by_mac() {
	for dev in /sys/class/net/*; do
		[ "$(cat "$dev/address")" = "$1" ] || continue
		ip link set "${dev##*/}" name "$2"
		return
	done
	echo "no network device has MAC $1 (is CONFIG_VIRTIO_NET in this kernel?)"
	ls /sys/class/net
	return 1
}

# handshake_done_on DEV: every peer of DEV (in this namespace) has done a handshake.
handshake_done_on() {
	wg show "$1" latest-handshakes | awk '$2 == 0 { bad = 1 } END { exit bad || NR == 0 }'
}

# peer_answers ADDR: ADDR answers one ping from the LAN host.
peer_answers() {
	nsx "$HOST" ping -c 1 -W 1 "$1" >/dev/null 2>&1
}

# barrier K SECONDS: this site is ready for step K (it gives its LAN host the
# address 10.0.0.(10K+N), and never takes it back); then wait at most SECONDS
# until the other site's host has its own.  The one way the two guests can
# agree on a moment is across the tunnel itself.
barrier() {
	ip -n "$HOST" addr add "10.0.0.$((10 * $1 + N))/24" dev eth0 2>/dev/null
	wait_until "$2" peer_answers "10.0.0.$((10 * $1 + PEER_N))"
}

# same_frames EXPECTED RECEIVED: the two files of hex frames (one a line)
# are the same; if not, each side's frames as length and header, one a
# line, to tell a lost frame from a reordered or a changed one.
same_frames() {
	cmp "$1" "$2" && return
	for f in "$1" "$2"; do
		echo "${f##*/}:"
		awk '{ printf "  %d: %d bytes, %s\n", NR, length($0) / 2, substr($0, 1, 28) }' "$f"
	done
	return 1
}

# --- the redirect use case (redirect, xdp-redirect) ------------------------
#
#   [lan: lanh.100] lanh --NIC pair-- lan0 [lan0.100 -> l2wg1] ==wg== other site
#
# Each site has a LAN port (two more NICs joined to each other: lan0 here,
# lanh in the LAN host's namespace) with VLAN 100 on it, and a second
# l2wireguard device, l2wg1, whose one peer is the other site's l2wg1.  The
# check moves frames between lan0.100 and l2wg1 its own way, with no bridge.
LAN=lan
VID=100
LAN_PORT=$((WG_PORT + 1))
# Each site's frames have a source MAC of their own, and go to the other
# site's LAN host (or to a group address).
LAN_SRC=024c3252440$N
LAN_PEER_SRC=024c3252440$PEER_N
LAN_HOST=$(mac_hex "$L2WG_LAN_HOST_MAC")
LAN_PEER_HOST=$(mac_hex "52:54:00:4c:34:0$PEER_N")

# lan_port_up [ARGS]: lan0.100 here (ARGS go to its 'ip link add', e.g.
# 'index 101'), lanh.100 in the LAN host's namespace.
lan_port_up() {
	nic_by_mac "$L2WG_LAN_MAC" lan0 && nic_by_mac "$L2WG_LAN_HOST_MAC" lanh &&
		ip netns add "$LAN" && ip link set lanh netns "$LAN" || return 1
	# promisc: QEMU's virtio-net passes only the frames for the NIC's own
	# MAC address otherwise, and these frames are for hosts behind it.
	ip -b - <<-EOB || return 1
	link set lan0 promisc on up
	link add link lan0 name lan0.$VID $* type vlan id $VID
	link set lan0.$VID up
	EOB
	ip -n "$LAN" -b - <<-EOB || return 1
	link set lo up
	link set lanh promisc on up
	link add link lanh name lanh.$VID type vlan id $VID
	link set lanh.$VID up
	EOB
	# One FIFO on each NIC: a kernel whose default qdisc is fq_codel
	# (Debian's) sends each flow from its own queue, and the frames of the
	# check, several flows, could leave in another order than sent.
	/usr/sbin/tc qdisc replace dev lan0 root pfifo &&
		nsx "$LAN" /usr/sbin/tc qdisc replace dev lanh root pfifo
}

# peer_device DEV PORT [WG_ARGS]: DEV (made already) with this guest's key
# and PORT, the other guest's device at PORT as its one peer (WG_ARGS: more
# of that peer's settings, e.g. allowed-ips), then up.
peer_device() {
	dev=$1 port=$2
	shift 2
	echo "$L2WG_PRIVATE_KEY" >"$L2WG_DIR/key"
	wg set "$dev" private-key "$L2WG_DIR/key" listen-port "$port" \
		peer "$L2WG_PEER_PUBLIC_KEY" endpoint "$(endpoint_at "$port")" "$@" &&
		ip link set "$dev" up
}

# lan_tunnel_up [ARGS]: l2wg1 (ARGS go to its 'ip link add'): the same key as
# l2wg0, its own port, the other guest's l2wg1 as its one peer; the
# keepalive starts the handshake before any frame.
lan_tunnel_up() {
	ip link add l2wg1 "$@" type l2wireguard &&
		peer_device l2wg1 "$LAN_PORT" persistent-keepalive 1
}

# require_lan_port: this guest has a LAN port, or the check is skipped.
require_lan_port() {
	[ -n "$L2WG_LAN_MAC" ] ||
		ktap_skip_all "no LAN port: it is two more virtio-net NICs, and the underlay is $L2WG_UNDERLAY"
}

# tc_redirect_site: the first steps of a check of the tc redirect: the LAN
# port, l2wg1, the redirect both ways, and l2wg1's handshake.
tc_redirect_site() {
	lan_step_or_abort "no LAN port" "LAN port: lan0.$VID here, lanh.$VID on the LAN host" lan_port_up
	lan_step_or_abort "no l2wg1" "l2wg1, a second l2wireguard device, with the other guest as its peer" \
		lan_tunnel_up
	lan_step_or_abort "no redirect" "tc: lan0.$VID ingress to l2wg1, l2wg1 ingress to lan0.$VID" \
		redirect_up
	ktap_test "l2wg1 handshake done" wait_until 30 handshake_done_on l2wg1
}

# redirect_up: tc moves the frames of lan0.100 into l2wg1 and those of l2wg1
# out on lan0.100 (clsact, matchall, mirred egress redirect; no bridge).
redirect_up() {
	/usr/sbin/tc qdisc add dev lan0.$VID clsact &&
		/usr/sbin/tc filter add dev lan0.$VID ingress matchall action mirred egress redirect dev l2wg1 &&
		/usr/sbin/tc qdisc add dev l2wg1 clsact &&
		/usr/sbin/tc filter add dev l2wg1 ingress matchall action mirred egress redirect dev lan0.$VID
}

# lan_host_receives MAX FILE: the LAN host keeps, in FILE, the next MAX
# frames from the other site's LAN source as they come in on lanh, tagged
# (compare them with on_lanh's).  Not on lanh.100: a packet socket there may
# get the frames of one burst out of their order.  Of the frames of one NAPI
# poll, the kernel hands a socket those that a protocol takes too (802.2
# frames, for LLC, which the bridge selects) at once, and those no protocol
# takes later, with the rest of the poll (__netif_receive_skb_list_core).
# ci/interop/burst.sh shows it: every hop in order, lanh.100's socket not.
lan_host_receives() {
	rawframe_recv_remote "$LAN" lanh "$1" "$2" 30000 "$LAN_PEER_SRC"
}

# on_lanh < FRAMES: the frames as lanh gets them, with VLAN 100's tag after
# the MAC addresses.
on_lanh() {
	sed "s/^.\{24\}/&8100$(printf %04x $VID)/"
}

# FROM=SRC TO=DST MAX=BYTES lan_frames: the frames SRC sends to DST (or to a
# group), as hex, from 60 bytes up to MAX + 8 (room for two VLAN tags).
lan_frames() {
	for args in "$TO 88b5 60 0 1" "$TO 88b5 61 0 2" \
		"$TO 88b5 1000 0 3" "$TO 88b5 $MAX 0 4" \
		"$TO 88b5 $((MAX + 8)) 0 5" "$TO 88b5 200 100 6" \
		"ffffffffffff 88b5 60 0 7" "0180c200000e 88cc 300 20 8" \
		"$TO 8847 64 0 9" "$TO 0064aaaa03 114 0 10" \
		"$TO 8100006588b5 300 8 11"; do
		set -- $args
		header="$1$FROM$2"
		echo "$header$("$RAWFRAME" fill $(($3 - ${#header} / 2)) "$5" "$4")"
	done
}

# Leave the site as it was: the LAN host's namespace (lanh goes back to the
# init namespace with it), l2wg1 and the VLAN device.
lan_teardown() {
	ip netns del "$LAN" 2>/dev/null
	ip link del l2wg1 2>/dev/null
	ip link del lan0.$VID 2>/dev/null
}

# None of it went through br0: l2wg0's bridge never learned the other
# site's LAN source.
lan_not_on_the_bridge() {
	! bridge fdb show br br0 | grep -qi "$(echo "$LAN_PEER_SRC" | sed 's/../&:/g; s/:$//')"
}

# lan_step_or_abort REASON DESCRIPTION COMMAND...: a step that, failing,
# tears the site's LAN port down and aborts the check with REASON.
lan_step_or_abort() {
	reason=$1
	shift
	ktap_step "$@"
	[ "$KTAP_FAILED" = 0 ] || { lan_teardown; ktap_abort "$reason"; }
}

# --- services of one site for the other (vlan, dhcp, pppoe) ---------------
#
# Each site serves on a VLAN of its own, SERVE_VID = BASE + N, and asks on
# the other's, ASK_VID = BASE + PEER_N: a client's broadcast then reaches the
# other site's server and never the one beside it on the same LAN host.

# site_vlans BASE [ADDR...]: SERVE_VID, with the addresses ADDR, and ASK_VID
# on the LAN host's eth0, up.
site_vlans() {
	SERVE_VID=$(($1 + N)) ASK_VID=$(($1 + PEER_N))
	shift
	vlan "$HOST" eth0 "eth0.$SERVE_VID" 802.1Q "$SERVE_VID" "$@" &&
		vlan "$HOST" eth0 "eth0.$ASK_VID" 802.1Q "$ASK_VID"
}

# host_vlans_down NAME...: the LAN host's VLAN devices NAME deleted.
host_vlans_down() {
	for name in "$@"; do
		ip -n "$HOST" link del "$name" 2>/dev/null
	done
}
