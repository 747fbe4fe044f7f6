#!/bin/sh
# The LAN hosts of the two sites ping each other across the tunnel, IPv4 and IPv6, also with packets of the LAN's full MTU (not fragmented).
. /l2wg/interop/lib.sh

ktap_plan 4
require_topology
ktap_test "ipv4 to the other site's host" nsx "$HOST" ping -c 3 -i 0.2 -W 3 "$PEER_IP"
ktap_test "ipv6 to the other site's host" nsx "$HOST" ping -6 -c 3 -i 0.2 -W 3 "$PEER_IP6"
ktap_test "ipv4, $LAN_MTU-byte packets, DF" \
	nsx "$HOST" ping -c 2 -i 0.2 -W 3 -M do -s $((LAN_MTU - 28)) "$PEER_IP"
ktap_test "ipv6, $LAN_MTU-byte packets" \
	nsx "$HOST" ping -6 -c 2 -i 0.2 -W 3 -M do -s $((LAN_MTU - 48)) "$PEER_IP6"
ktap_finish
