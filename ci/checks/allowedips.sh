#!/bin/sh
# Allowed IPs have no meaning on an l2wireguard peer, so setting them is refused with a message instead of being ignored; on a wireguard device they still work.
. /l2wg/checks/lib.sh
require_config CONFIG_VETH

setup() {
	l2_underlay a b
	l2_device a
	wg_keys b
	l2_peering a b
}

refused() {
	if out=$(nsx a wg set l2wg0 peer "$(pub_of b)" allowed-ips 10.0.0.0/24 2>&1); then
		echo "accepted"
		return 1
	fi
	echo "$out"
	nsx a wg show l2wg0 allowed-ips
	! nsx a wg show l2wg0 allowed-ips | grep -q 10.0.0.0
}

empty_list_accepted() {
	nsx a wg set l2wg0 peer "$(pub_of b)" allowed-ips ""
}

l3_still_works() {
	ip -n a link add wg0 type wireguard &&
		nsx a wg set wg0 private-key "$L2WG_DIR/a.key" peer "$(pub_of b)" allowed-ips 10.9.0.0/24 &&
		nsx a wg show wg0 allowed-ips | grep -q 10.9.0.0/24
}

ktap_plan 4
require_l2wireguard
ktap_step "an l2wireguard device with a peer" setup
ktap_test "allowed IPs on an l2wireguard peer are refused" refused
ktap_test "an empty list of allowed IPs is accepted" empty_list_accepted
ktap_test "a wireguard device still takes allowed IPs" l3_still_works
ktap_finish
