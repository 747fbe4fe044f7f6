#!/bin/sh
# A DHCP client on one site leases an address from udhcpd on the other site.
. /l2wg/checks/lib.sh
require_config CONFIG_BRIDGE CONFIG_VETH

# leased_from_pool: hb's eth0 has an address in 10.0.0.100-110.
leased_from_pool() {
	ip -n hb -4 addr show dev eth0 | grep -Eq 'inet 10\.0\.0\.(10[0-9]|110)/'
}

ktap_plan 3
require_l2wireguard
l2_sites 4
ip -n hb addr flush dev eth0
cat >"$L2WG_DIR/udhcpd.conf" <<CONF
start 10.0.0.100
end 10.0.0.110
interface eth0
lease_file $L2WG_DIR/udhcpd.leases
option subnet 255.255.255.0
option router 10.0.0.1
CONF
touch "$L2WG_DIR/udhcpd.leases"
# udhcpc's hook: configure the leased address with iproute2.
cat >"$L2WG_DIR/udhcpc.script" <<'HOOK'
#!/bin/sh
case $1 in
bound|renew) /usr/sbin/ip addr add "$ip/${mask:-24}" dev "$interface" && echo "leased $ip" ;;
esac
HOOK
chmod +x "$L2WG_DIR/udhcpc.script"
# -a 100: udhcpd ARP-pings an address before offering it, 2 s by default.
nsx ha udhcpd -f -a 100 "$L2WG_DIR/udhcpd.conf" >"$L2WG_DIR/udhcpd.log" 2>&1 &
ktap_test "udhcpc got a lease" nsx hb udhcpc -f -q -n -t 8 -T 1 -i eth0 -s "$L2WG_DIR/udhcpc.script"
ktap_test "leased address is from the pool" leased_from_pool
ktap_test "ping the server from the leased address" reaches hb -c 1 10.0.0.1
ktap_finish
