#!/bin/sh
# Plain (L3) WireGuard still works, and the two modes do not mix: an L2
# packet reaching an L3 device, or an L3 packet reaching an l2wireguard
# device, is dropped and counted (rx_dropped or rx_frame_errors).
. /l2wg/checks/lib.sh
require_config CONFIG_VETH CONFIG_IPV6

# errors_of NS DEV: rx_dropped + rx_frame_errors
errors_of() {
	echo $(($(stat_of "$1" "$2" rx_dropped) + $(stat_of "$1" "$2" rx_frame_errors)))
}

# mixed_dropped SENDER RECEIVER RDEV ADDR: SENDER pings ADDR; the traffic
# arrives at RECEIVER's RDEV of the other kind and must be dropped and
# counted.  The counter is watched for up to 5 s, not a fixed wait.
mixed_dropped() {
	before=$(errors_of "$2" "$3")
	nsx "$1" ping -c 3 -i 0.5 -W 1 "$4" >/dev/null 2>&1 &
	i=0 after=$before
	while [ "$after" -le "$before" ] && [ $i -lt 50 ]; do
		sleep 0.1
		after=$(errors_of "$2" "$3")
		i=$((i + 1))
	done
	kill $! 2>/dev/null
	echo "$2 $3: rx_dropped + rx_frame_errors $before -> $after"
	[ "$after" -gt "$before" ]
}

ktap_plan 5
l3_sites 4
ktap_test "L3 wireguard: IPv4 ping" nsx a ping -c 2 -i 0.2 -W 3 10.9.0.2
ktap_test "L3 wireguard: IPv6 ping" nsx a ping -6 -c 2 -i 0.2 -W 3 fd09::2
ktap_test "L3 wireguard: handshake done" handshake_done a wg0

require_l2wireguard
# Site a gets an l2wireguard device whose peer is b's L3 wg0 (same keys).
wg_device a l2wg0 l2wireguard 51822 || ktap_abort "cannot create an l2wireguard device"
wg_peer a l2wg0 b "$UNDER_B:51821"
ip -n a addr add 10.8.0.1/24 dev l2wg0
nsx b wg set wg0 peer "$(pub_of a)" endpoint "$UNDER_A:51822" allowed-ips 10.9.0.1/32,fd09::1/128,10.8.0.0/24
ktap_test "L2 frames reaching an L3 device are dropped and counted" mixed_dropped a b wg0 10.8.0.2
ip -n b addr add 10.8.0.2/24 dev wg0
ktap_test "L3 packets reaching an l2wireguard device are dropped and counted" mixed_dropped b a l2wg0 10.8.0.1
ktap_finish
