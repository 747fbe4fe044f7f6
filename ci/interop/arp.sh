#!/bin/sh
# ARP and IPv6 neighbour discovery resolve the other site's LAN host across the tunnel, and both bridges (br0 and l2wg0's own table) learn where it is.
. /l2wg/interop/lib.sh

# The bridge's port for the other host is l2wg0; l2wg0's own FDB sends its
# MAC to the other guest's endpoint.
fdb_learned() {
	bridge fdb show br br0 | grep -i "^$PEER_MAC dev l2wg0 .*master br0" || return 1
	bridge fdb show dev l2wg0 | grep -i "^$PEER_MAC .*dst $ENDPOINT_ADDR "
}

ktap_plan 4
require_topology
ip -n "$HOST" neigh flush all
ktap_test "arping the other site's host" nsx "$HOST" arping -f -c 3 -w 5 -I eth0 "$PEER_IP"
ip -n "$HOST" neigh flush all
nsx "$HOST" ping -c 1 -W 3 "$PEER_IP" >/dev/null
ktap_test "its MAC learned via ARP" neigh_is "$HOST" "$PEER_IP" "$PEER_MAC"
nsx "$HOST" ping -6 -c 1 -W 3 "$PEER_IP6" >/dev/null
ktap_test "its MAC learned via NDP" neigh_is "$HOST" "$PEER_IP6" "$PEER_MAC"
ktap_test "br0 and l2wg0 learned its MAC" fdb_learned
ktap_finish
