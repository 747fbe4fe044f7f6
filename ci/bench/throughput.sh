#!/bin/bash
# Guest benchmark: TCP throughput through l2wireguard against plain L3
# WireGuard, gretap over WireGuard and VXLAN over WireGuard, in one VM run
# (two namespaces over a veth underlay with MTU 1500), 5 rounds interleaved.
# Run it with tools/bench-throughput KERNEL, which summarizes the rounds it
# prints (ci/bench/medians.awk: medians, ratios to L3 WireGuard).  A
# benchmark: it prints figures, asserts nothing.
set -e
ROUNDS=${ROUNDS:-5} SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
# Parallel TCP flows per run (iperf3 -P); tools/bench-throughput --flows N sets it.
FLOWS=${FLOWS:-1}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
umask 077
dir=$(mktemp -d)

for ns in a b; do
	ip netns add $ns
	ip -n $ns link set lo up
	wg genkey >"$dir/$ns.key"
	wg pubkey <"$dir/$ns.key" >"$dir/$ns.pub"
done
ip link add u0 netns a type veth peer name u0 netns b
ip -n a addr add 192.168.0.1/24 dev u0 && ip -n a link set u0 up
ip -n b addr add 192.168.0.2/24 dev u0 && ip -n b link set u0 up

# wg_link NS DEV KIND PORT PEER PEER_PORT ADDR [ALLOWED]
wg_link() {
	ip -n "$1" link add "$2" type "$3"
	ip netns exec "$1" wg set "$2" private-key "$dir/$1.key" listen-port "$4" \
		peer "$(cat "$dir/$5.pub")" endpoint "192.168.0.${6}:$4" ${8:+allowed-ips $8}
	ip -n "$1" addr add "$7" dev "$2"
	ip -n "$1" link set "$2" up
}
wg_link a wg0 wireguard 51820 b 2 10.1.0.1/24 10.1.0.0/24
wg_link b wg0 wireguard 51820 a 1 10.1.0.2/24 10.1.0.0/24
wg_link a l2wg0 l2wireguard 51821 b 2 10.2.0.1/24
wg_link b l2wg0 l2wireguard 51821 a 1 10.2.0.2/24

# Stacked L2 tunnels inside the L3 tunnel, each with the MTU that keeps its
# outer packets unfragmented (wg0's 1420 less its own header).
ip -n a link add gt0 type gretap local 10.1.0.1 remote 10.1.0.2
ip -n b link add gt0 type gretap local 10.1.0.2 remote 10.1.0.1
ip -n a link add vx0 type vxlan id 42 local 10.1.0.1 remote 10.1.0.2 dstport 4789
ip -n b link add vx0 type vxlan id 42 local 10.1.0.2 remote 10.1.0.1 dstport 4789
for ns in a b; do
	n=$([ $ns = a ] && echo 1 || echo 2)
	ip -n $ns link set gt0 mtu 1382 up && ip -n $ns addr add 10.3.0.$n/24 dev gt0
	ip -n $ns link set vx0 mtu 1370 up && ip -n $ns addr add 10.4.0.$n/24 dev vx0
done
ip netns exec b iperf3 -s -D -1 >/dev/null 2>&1 || true

LINKS="l3-wireguard:10.1.0.2 l2wireguard:10.2.0.2 gretap-over-wg:10.3.0.2 vxlan-over-wg:10.4.0.2"
for link in $LINKS; do ip netns exec a ping -c 3 -i 0.2 -W 2 "${link#*:}" >/dev/null; done

echo "# $FLOWS flow(s), $(nproc) guest CPU(s)"
echo "# link MTU: l3-wireguard $(ip -n a -o link show wg0 | grep -o 'mtu [0-9]*')," \
	"l2wireguard $(ip -n a -o link show l2wg0 | grep -o 'mtu [0-9]*')"
for round in $(seq "$ROUNDS"); do
	for link in $LINKS; do
		ip netns exec b iperf3 -s -D -1 >/dev/null 2>&1
		sleep 0.3
		# With several flows the last receiver line is iperf3's [SUM].
		mbit=$(ip netns exec a iperf3 -c "${link#*:}" -t "$SECONDS_PER_RUN" -P "$FLOWS" \
			-f m 2>&1 | awk '/receiver/ { v = $(NF-2) } END { print v }')
		echo "round $round ${link%%:*} ${mbit:-0} Mbit/s"
	done
done
