#!/bin/sh
# l2wg: timeout=120
# The LAN host of each site leases an address from udhcpd on the other site's LAN host, across the tunnel (each site serves on a VLAN of its own and asks on the other's), and reaches the server from it.
. /l2wg/interop/lib.sh
require_config CONFIG_VLAN_8021Q

# serve: udhcpd on eth0.SERVE_VID, its pool 10.VID.0.100-110.
serve() {
	net=10.$SERVE_VID.0
	cat >"$L2WG_DIR/udhcpd.conf" <<-CONF
	start $net.100
	end $net.110
	interface eth0.$SERVE_VID
	lease_file $L2WG_DIR/udhcpd.leases
	option subnet 255.255.255.0
	option router $net.1
	CONF
	: >"$L2WG_DIR/udhcpd.leases"
	# -a 100: udhcpd ARP-pings an address before offering it, 2 s by default.
	nsx "$HOST" udhcpd -f -a 100 "$L2WG_DIR/udhcpd.conf" </dev/null >"$L2WG_DIR/udhcpd.log" \
		2>&1 3>&- &
	SERVER=$!
}

# udhcpc's hook: the leased address on the interface, and what was leased
# from whom in the lease file.
cat >"$L2WG_DIR/udhcpc.script" <<HOOK
#!/bin/sh
case \$1 in
bound|renew)
	/usr/sbin/ip addr add "\$ip/\${mask:-24}" dev "\$interface" &&
		echo "\$ip \$serverid" >"$L2WG_DIR/lease"
	;;
esac
HOOK
chmod +x "$L2WG_DIR/udhcpc.script"

# leased_from_the_other_site: the lease is from the other site's pool, and
# its server identifier is that server's address.
leased_from_the_other_site() {
	cat "$L2WG_DIR/lease"
	read -r ip server <"$L2WG_DIR/lease" &&
		case $ip in 10.$ASK_VID.0.10[0-9] | 10.$ASK_VID.0.110) ;; *) false ;; esac &&
		[ "$server" = "10.$ASK_VID.0.1" ]
}

ktap_plan 5
require_topology
rm -f "$L2WG_DIR/lease"
ktap_step "this site serves on VLAN $((150 + N)), asks on VLAN $((150 + PEER_N))" \
	site_vlans 150 "10.$((150 + N)).0.1/24"
serve
ktap_step "the other site serves too" barrier 5 60
ktap_test "udhcpc got a lease across the tunnel" \
	nsx "$HOST" udhcpc -f -q -n -t $((10 * L2WG_SLOWDOWN)) -T 1 -i "eth0.$ASK_VID" \
	-s "$L2WG_DIR/udhcpc.script"
ktap_test "from the other site's pool and server" leased_from_the_other_site
ktap_test "ping the other site's server from the leased address" \
	nsx "$HOST" ping -c 1 -W 3 "10.$ASK_VID.0.1"
barrier 15 60
kill "$SERVER" 2>/dev/null
host_vlans_down "eth0.$SERVE_VID" "eth0.$ASK_VID"
ktap_finish
