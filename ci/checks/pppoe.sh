#!/bin/sh
# A PPPoE session across the tunnel: pppoe-server on one site's LAN host,
# pppd with the kernel-mode pppoe plugin on the other; ping through it.
. /l2wg/checks/lib.sh
# pppoe-server (Debian builds it without kernel mode) runs pppd on a pty:
# that needs the async PPP line discipline.
require_config CONFIG_BRIDGE CONFIG_VETH CONFIG_PPP CONFIG_PPPOE CONFIG_PPP_ASYNC
require_tool /usr/sbin/pppd /usr/sbin/pppoe-server /usr/lib/pppd/2.4.9/pppoe.so

ppp_has_address() {
	ip -n "$1" -4 addr show dev ppp0 2>/dev/null | grep -q 'inet '
}

# ppp_up NS: wait up to 30 s for ppp0 with an address in NS.  Discovery,
# LCP and IPCP all cross the tunnel, the first of them with its handshake: in
# a guest starved by a busy host, 10 s ran out with the session a step short.
ppp_up() {
	wait_until 30 ppp_has_address "$1" && return 0
	echo "no ppp0 with an address in $1"
	cat "$L2WG_DIR/pppd.log" 2>/dev/null | tail -n 20
	return 1
}

ktap_plan 3
require_l2wireguard
l2_sites 4
# The PPPoE server on ha (Debian's is built without kernel mode, so its
# sessions run pppd over a pty); the client on hb uses the kernel-mode plugin.
# Both keep the PPP MTU below the tunnel's Ethernet MTU minus 8.
nsx ha pppoe-server -I eth0 -L 10.77.0.1 -R 10.77.0.2 -N 1 -O /etc/ppp/pppoe-server-options
nsx hb pppd plugin pppoe.so nic-eth0 noauth nodetach noipdefault nodefaultroute \
	mtu 1380 mru 1380 persist maxfail 1 lcp-echo-interval 0 logfile "$L2WG_DIR/pppd.log" \
	>/dev/null 2>&1 &
ktap_test "PPPoE session up on the client" ppp_up hb
ktap_test "ping the PPPoE server through the session" reaches hb -c 2 -i 0.2 10.77.0.1
ktap_test "ping the client from the server side" reaches ha -c 1 10.77.0.2
ktap_finish
