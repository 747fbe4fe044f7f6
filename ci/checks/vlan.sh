#!/bin/sh
# 802.1Q and 802.1ad (QinQ) tagged traffic crosses the l2wireguard tunnel:
# VLANs on the LAN hosts through the bridges, and a VLAN on l2wg0 itself.
. /l2wg/checks/lib.sh
require_config CONFIG_BRIDGE CONFIG_VETH CONFIG_VLAN_8021Q

ktap_plan 4
require_l2wireguard
l2_sites 4
vlan ha eth0 eth0.100 802.1Q 100 10.100.0.1/24
vlan hb eth0 eth0.100 802.1Q 100 10.100.0.2/24
ktap_test "802.1Q VLAN 100 between LAN hosts" reaches ha -c 1 10.100.0.2

vlan ha eth0 eth0.s200 802.1ad 200 10.200.0.1/24
vlan hb eth0 eth0.s200 802.1ad 200 10.200.0.2/24
vlan ha eth0.s200 eth0.s200.300 802.1Q 300 10.230.0.1/24
vlan hb eth0.s200 eth0.s200.300 802.1Q 300 10.230.0.2/24
ktap_test "802.1ad S-VLAN 200 between LAN hosts" reaches ha -c 1 10.200.0.2
ktap_test "QinQ 200/300 between LAN hosts" reaches ha -c 1 10.230.0.2

vlan a l2wg0 l2wg0.50 802.1Q 50 10.50.0.1/24
vlan b l2wg0 l2wg0.50 802.1Q 50 10.50.0.2/24
ktap_test "802.1Q VLAN 50 on l2wg0 itself" reaches a -c 1 10.50.0.2
ktap_finish
