#!/bin/sh
# LAN hosts on two sites ping each other over a bridged l2wireguard tunnel,
# IPv4 and IPv6 (ha -- br0 [a] l2wg0 ==wg== l2wg0 [b] br0 -- hb).
. /l2wg/checks/lib.sh
require_config CONFIG_BRIDGE CONFIG_VETH CONFIG_IPV6

ktap_plan 4
require_l2wireguard
l2_sites 4
ktap_test "ipv4 ha -> hb" reaches ha -c 2 -i 0.2 10.0.0.2
ktap_test "ipv6 ha -> hb" reaches ha -6 -c 2 -i 0.2 fd10::2
ktap_test "ipv4 hb -> ha" reaches hb -c 1 10.0.0.1
ktap_test "handshake done" handshake_done a l2wg0
ktap_finish
