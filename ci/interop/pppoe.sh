#!/bin/sh
# l2wg: timeout=120
# A PPPoE session from each site's LAN host to pppoe-server on the other site's, across the tunnel (each site serves on a VLAN of its own and dials on the other's); ping through it, both ways.
. /l2wg/interop/lib.sh
# pppoe-server (Debian builds it without kernel mode) runs pppd on a pty:
# that needs the async PPP line discipline.
require_config CONFIG_VLAN_8021Q CONFIG_PPP CONFIG_PPPOE CONFIG_PPP_ASYNC
require_tool /usr/sbin/pppd /usr/sbin/pppoe-server /usr/lib/pppd/2.4.9/pppoe.so

# pppc: the session this site dials, with an address.
dialed() {
	ip -n "$HOST" -4 addr show dev pppc 2>/dev/null | grep -q 'inet '
}

# session_up: wait up to 20 s for pppc.
session_up() {
	wait_until 20 dialed && return 0
	echo "no pppc with an address"
	tail -n 20 "$L2WG_DIR/pppc.log" 2>/dev/null
	return 1
}

# The PPP MTU leaves room for the PPPoE header (6) and PPP's protocol (2)
# under the LAN's MTU.
ktap_plan 5
require_topology
ktap_step "this site serves on VLAN $((160 + N)), dials on VLAN $((160 + PEER_N))" site_vlans 160
# pppoe-server forks into the background, and says where in its pid file.
# Neither it nor pppd may hold the check's output (fd 3 and the pipe the
# init reads to its end): the two sites' checks are not isolated.
nsx "$HOST" pppoe-server -I "eth0.$SERVE_VID" -L "10.$SERVE_VID.0.1" -R "10.$SERVE_VID.0.2" \
	-N 1 -O /etc/ppp/pppoe-server-options -X "$L2WG_DIR/pppoe-server.pid" \
	</dev/null >/dev/null 2>&1 3>&-
ktap_step "the other site serves too" barrier 6 60
nsx "$HOST" pppd plugin pppoe.so "nic-eth0.$ASK_VID" ifname pppc noauth nodetach noipdefault \
	nodefaultroute mtu $((LAN_MTU - 8)) mru $((LAN_MTU - 8)) maxfail 1 lcp-echo-interval 0 \
	logfile "$L2WG_DIR/pppc.log" </dev/null >/dev/null 2>&1 3>&- &
CLIENT=$!
ktap_test "PPPoE session up to the other site's server" session_up
ktap_test "ping the other site's server through it" \
	nsx "$HOST" ping -c 2 -i 0.2 -W 3 "10.$ASK_VID.0.1"
ktap_test "ping the other site's client through its session with this server" \
	wait_until 20 nsx "$HOST" ping -c 1 -W 1 "10.$SERVE_VID.0.2"
barrier 16 60
kill "$CLIENT" 2>/dev/null
wait "$CLIENT" 2>/dev/null
kill "$(cat "$L2WG_DIR/pppoe-server.pid")" 2>/dev/null
host_vlans_down "eth0.$SERVE_VID" "eth0.$ASK_VID"
ktap_finish
