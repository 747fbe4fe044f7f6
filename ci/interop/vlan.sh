#!/bin/sh
# 802.1Q and 802.1ad (QinQ) tagged traffic crosses between the two sites, IPv4 and IPv6: VLANs on the LAN hosts through both bridges, and a VLAN on l2wg0 itself.
. /l2wg/interop/lib.sh
require_config CONFIG_VLAN_8021Q

# its_vlans: the LAN host's 802.1Q VLAN 110, S-VLAN 120 (802.1ad) with
# C-VLAN 130 inside it, and VLAN 140 on l2wg0 here; each with 10.VID.0.N.
its_vlans() {
	vlan "$HOST" eth0 eth0.110 802.1Q 110 "10.110.0.$N/24" "fd10:110::$N/64" &&
		vlan "$HOST" eth0 eth0.s120 802.1ad 120 "10.120.0.$N/24" &&
		vlan "$HOST" eth0.s120 eth0.s120.130 802.1Q 130 "10.130.0.$N/24" "fd10:130::$N/64" &&
		ip link add link l2wg0 name l2wg0.140 type vlan id 140 &&
		ip link set l2wg0.140 up &&
		ip addr add "10.140.0.$N/24" dev l2wg0.140
}

ktap_plan 7
require_topology
ktap_step "VLANs 110, 120 (802.1ad) with 130 inside, and 140 on l2wg0" its_vlans
ktap_step "the other site has its VLANs too" barrier 4 60
ktap_test "802.1Q VLAN 110 between LAN hosts" nsx "$HOST" ping -c 2 -i 0.2 -W 3 "10.110.0.$PEER_N"
ktap_test "802.1Q VLAN 110, IPv6" nsx "$HOST" ping -6 -c 2 -i 0.2 -W 3 "fd10:110::$PEER_N"
ktap_test "802.1ad S-VLAN 120 between LAN hosts" nsx "$HOST" ping -c 2 -i 0.2 -W 3 "10.120.0.$PEER_N"
ktap_test "QinQ 120/130 between LAN hosts, IPv6" \
	nsx "$HOST" ping -6 -c 2 -i 0.2 -W 3 "fd10:130::$PEER_N"
ktap_test "802.1Q VLAN 140 on l2wg0 itself" ping -c 2 -i 0.2 -W 3 "10.140.0.$PEER_N"
# Both sites are done with each other's VLANs before either takes its own down.
barrier 14 60
host_vlans_down eth0.110 eth0.s120
ip link del l2wg0.140 2>/dev/null
ktap_finish
