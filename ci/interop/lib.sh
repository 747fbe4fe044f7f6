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
if [ "$L2WG_FAMILY" = 6 ]; then
	ENDPOINT="[$UNDER_PEER_IP6]:$WG_PORT" ENDPOINT_ADDR=$UNDER_PEER_IP6
else
	ENDPOINT="$UNDER_PEER_IP:$WG_PORT" ENDPOINT_ADDR=$UNDER_PEER_IP
fi
TOPOLOGY_OK=/run/l2wg/topology.ok

# require_topology: the site is up (else every test fails with that reason).
require_topology() {
	[ -e "$TOPOLOGY_OK" ] || ktap_abort "the site is not up (see the topology check)"
	LAN_MTU=$(cat /sys/class/net/l2wg0/mtu)
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
