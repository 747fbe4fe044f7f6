# Shared helpers for the guest checks: KTAP output, namespaces, WireGuard
# keys and the standard topologies.  Sourced by every ci/checks/*.sh; runs
# under busybox sh inside the QEMU guest.
#
# busybox sh runs its own applets in preference to PATH, so the real tools
# are wrapped in functions of the same name (functions win over applets).

ip() { /usr/sbin/ip "$@"; }
bridge() { /usr/sbin/bridge "$@"; }
ping() { /usr/bin/ping "$@"; }
wg() { /usr/bin/wg "$@"; }

L2WG_DIR=${L2WG_DIR:-/tmp/l2wg}
KCONFIG=${L2WG_KCONFIG:-/l2wg/kconfig}
umask 077
mkdir -p "$L2WG_DIR"
# fd 3 is the check's own output, for what must be seen even from inside a
# ktap_step, whose output goes to a file.
exec 3>&1

# --- KTAP -----------------------------------------------------------------

KTAP_NUMBER=0
KTAP_PLANNED=0
KTAP_FAILED=0
KTAP_PASSED=0

ktap_plan() {
	KTAP_PLANNED=$1
	echo "KTAP version 1"
	echo "1..$1"
}

# With L2WG_TIMING set, each result is preceded by the guest's uptime.
ktap_time() {
	[ -z "$L2WG_TIMING" ] || echo "# uptime $(cut -d' ' -f1 /proc/uptime)"
}

ktap_ok() {
	KTAP_NUMBER=$((KTAP_NUMBER + 1))
	KTAP_PASSED=$((KTAP_PASSED + 1))
	ktap_time
	echo "ok $KTAP_NUMBER $1"
}

# ktap_fail NAME [REASON]: the reason is printed as a diagnostic first.
ktap_fail() {
	KTAP_NUMBER=$((KTAP_NUMBER + 1))
	KTAP_FAILED=$((KTAP_FAILED + 1))
	ktap_time
	[ -n "$2" ] && echo "# $2"
	echo "not ok $KTAP_NUMBER $1"
}

ktap_skip() {
	KTAP_NUMBER=$((KTAP_NUMBER + 1))
	echo "ok $KTAP_NUMBER $1 # SKIP $2"
}

# ktap_test NAME COMMAND...: ok if COMMAND succeeds; else not ok, with the
# command and its output (last lines) as diagnostics.
ktap_test() {
	name=$1
	shift
	if out=$("$@" 2>&1); then
		ktap_ok "$name"
	else
		echo "# \$ $*"
		[ -n "$out" ] && echo "$out" | tail -n 15 | sed 's/^/# /'
		ktap_fail "$name"
	fi
}

# ktap_step NAME COMMAND...: as ktap_test, but COMMAND runs in this shell, not
# a subshell, so what it sets (a topology's addresses, the pid of a background
# job) is there for the tests after it.  Its output goes to a file.
ktap_step() {
	name=$1
	shift
	if "$@" >"$L2WG_DIR/step.out" 2>&1; then
		ktap_ok "$name"
	else
		echo "# \$ $*"
		tail -n 15 "$L2WG_DIR/step.out" | sed 's/^/# /'
		ktap_fail "$name"
	fi
	rm -f "$L2WG_DIR/step.out"
}

# ktap_skip_all REASON: the whole check cannot run here (exit 4, like kselftest).
ktap_skip_all() {
	echo "KTAP version 1"
	echo "1..0 # SKIP $1"
	echo "$1" >"${L2WG_SKIP_FILE:-/tmp/l2wg-skip}"
	exit 4
}

# ktap_abort REASON: a precondition failed; the remaining tests fail with it.
ktap_abort() {
	exec 1>&3
	[ -s "$L2WG_DIR/step.out" ] && tail -n 15 "$L2WG_DIR/step.out" | sed 's/^/# /'
	echo "# $1"
	[ "$KTAP_PLANNED" = 0 ] && ktap_plan 1
	while [ "$KTAP_NUMBER" -lt "$KTAP_PLANNED" ]; do
		KTAP_NUMBER=$((KTAP_NUMBER + 1))
		echo "not ok $KTAP_NUMBER # $1"
	done
	exit 1
}

ktap_finish() {
	if [ "$KTAP_NUMBER" != "$KTAP_PLANNED" ]; then
		echo "# planned $KTAP_PLANNED tests, ran $KTAP_NUMBER"
		exit 1
	fi
	[ "$KTAP_FAILED" = 0 ] || exit 1
	exit 0
}

# --- waiting --------------------------------------------------------------

# uptime_s: the guest's uptime in whole seconds.
uptime_s() {
	cut -d. -f1 /proc/uptime
}

# wait_until SECONDS CMD...: run CMD every 0.05 s until it succeeds, for at
# most SECONDS (times L2WG_SLOWDOWN, set by l2wg boot for a sanitizer
# kernel) of guest time; then return 1.  A deadline, not a number of tries.
wait_until() {
	_wait_end=$(($(uptime_s) + $1 * ${L2WG_SLOWDOWN:-1}))
	shift
	until "$@"; do
		[ "$(uptime_s)" -lt "$_wait_end" ] || return 1
		sleep 0.05
	done
}

# reaches NS PING_ARGUMENTS...: NS's ping (-W 3 for each reply) succeeds,
# by ping's own exit status, tried again every half second until 20 s (times
# L2WG_SLOWDOWN) have passed; prints the last try's output.  A first contact
# waits for a handshake and for ARP or neighbour discovery, both slow in a busy
# guest, and a failed resolution ends a ping at once, even one with -w.
reaches() {
	_reach_ns=$1
	shift
	wait_until 20 ping_once_more "$@"
	_reach_rc=$?
	echo "$_reach_out"
	return $_reach_rc
}

# ping_once_more PING_ARGUMENTS...: reaches' one try, its output in
# _reach_out; a failed try pauses, so that one failing at once is not run
# every 0.05 s.
ping_once_more() {
	_reach_out=$(nsx "$_reach_ns" ping -W 3 "$@" 2>&1) && return 0
	sleep 0.5
	return 1
}

# --- preconditions --------------------------------------------------------

# require_config CONFIG_FOO...: skip the check unless the kernel has them.
require_config() {
	[ -r "$KCONFIG" ] || return 0
	for opt in "$@"; do
		grep -q "^$opt=[ym]" "$KCONFIG" || ktap_skip_all "$opt is not set in this kernel"
	done
}

# require_tool FILE...: skip the check unless the guest has these files.
require_tool() {
	for tool in "$@"; do
		[ -e "$tool" ] || ktap_skip_all "$tool is not in the guest"
	done
}

# The L2 checks must fail, not skip, on a kernel without l2wireguard.
require_l2wireguard() {
	knows_l2wireguard || ktap_abort "l2wireguard link kind not supported by this kernel"
}

# knows_l2wireguard: the kernel makes an l2wireguard device.  The probe is
# made in the namespace all checks share, so its name is random: each check
# has its own PID namespace, where $$ is the same small number for all.
knows_l2wireguard() {
	probe=l2wgp$(tr -d - </proc/sys/kernel/random/uuid | cut -c1-10)
	ip link add "$probe" type l2wireguard 2>/dev/null || return 1
	ip link del "$probe"
}

# --- namespaces -----------------------------------------------------------

L2WG_NAMESPACES=""

cleanup() {
	for job in $(jobs -p); do kill "$job" 2>/dev/null; done
	for ns in $L2WG_NAMESPACES; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# New namespaces inherit the initial namespace's IPv6 defaults, with DAD
# off, so that addresses are usable at once (set once per check).
ns_defaults() {
	[ -n "$L2WG_NS_DEFAULTS" ] && return
	L2WG_NS_DEFAULTS=1
	sysctl -qw net.core.devconf_inherit_init_net=1 net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 >/dev/null 2>&1
}

# ns_new NAME: a namespace with lo up and IPv6 DAD off.
ns_new() {
	ns_defaults
	ip netns add "$1"
	L2WG_NAMESPACES="$L2WG_NAMESPACES $1"
	ip -n "$1" link set lo up
}

# nsx NS CMD...: CMD in namespace NS.  Run in the background, a function
# runs in a subshell, and $! is that subshell, not CMD: a process the check
# kills later is started with ip netns exec itself.
nsx() {
	ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# vlan NS PARENT NAME PROTO ID [ADDR...]: the VLAN device NAME (PROTO
# 802.1Q or 802.1ad) on PARENT in namespace NS, up, with the addresses ADDR
# (without duplicate address detection).  Its variables are prefixed: sh
# has no locals, and a ktap_step's "name" is printed after it returns.
vlan() {
	_vlan_ns=$1 _vlan_dev=$3
	ip -n "$1" link add link "$2" name "$3" type vlan protocol "$4" id "$5" &&
		ip -n "$1" link set "$3" up || return 1
	shift 5
	for _vlan_addr in "$@"; do
		ip -n "$_vlan_ns" addr add "$_vlan_addr" dev "$_vlan_dev" nodad || return 1
	done
}

# stat_of NS DEV COUNTER: one of /sys/class/net/DEV/statistics/*.
stat_of() {
	nsx "$1" cat "/sys/class/net/$2/statistics/$3"
}

mac_of() {
	nsx "$1" cat "/sys/class/net/$2/address"
}

# veth_pair NS1 DEV1 NS2 DEV2
veth_pair() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# --- WireGuard ------------------------------------------------------------

# Fixed test keys for sites a, b and c (and a second device on a): deriving
# a public key costs about 0.3 s under TCG, a second per check.  Other names
# get fresh keys.
WG_TEST_KEYS="a WNth1Oz5W/ZZAIYuZDwEHwDnRSeJVwmPOWPNc2qrU28= GfmIIhdWS5UQB5pWlMsP/3Y4pQAbgEMmecRWLJQfWiM=
b oFCH1klNYbnPEfIjUvRNigOwaPTp3m0J/wQe+8F8yFw= vgHeDiJ74eZUBwi8dUCUfZY4xnIRNcIHcNiZeUu7xEc=
c 4JXcDki41EcIA44dNc5FuTrVPhQVDeVrgQKEtQa3DUU= nZIvzSBxvENmmrmPhrqAyarOamhfQt9PPTAdug81rHU=
a2 4I/l0wQefrZtDLTl/S4Cb0rPpsNvzUzkSsd8y3OHnmE= QM5lr/0ytTiWASoO3hTP7YwVX4sQzj0Ecg8yWXIwPQo="

# wg_keys NAME: $L2WG_DIR/NAME.key and NAME.pub
wg_keys() {
	pair=$(echo "$WG_TEST_KEYS" | grep "^$1 ")
	if [ -n "$pair" ]; then
		echo "$pair" | cut -d' ' -f2 >"$L2WG_DIR/$1.key"
		echo "$pair" | cut -d' ' -f3 >"$L2WG_DIR/$1.pub"
	else
		wg genkey >"$L2WG_DIR/$1.key"
		wg pubkey <"$L2WG_DIR/$1.key" >"$L2WG_DIR/$1.pub"
	fi
}

pub_of() {
	cat "$L2WG_DIR/$1.pub"
}

# wg_device NS DEV KIND PORT [KEY]: a wireguard device of KIND (wireguard or
# l2wireguard) in NS, with NS's key (or KEY's, see wg_keys), listening on PORT.
wg_device() {
	ip -n "$1" link add "$2" type "$3" || return 1
	nsx "$1" wg set "$2" private-key "$L2WG_DIR/${5:-$1}.key" listen-port "$4"
	ip -n "$1" link set "$2" up
}

# wg_peer NS DEV PEER ENDPOINT [ALLOWED_IPS]: PEER is a key name (wg_keys)
wg_peer() {
	if [ -n "$5" ]; then
		nsx "$1" wg set "$2" peer "$(pub_of "$3")" endpoint "$4" allowed-ips "$5"
	else
		nsx "$1" wg set "$2" peer "$(pub_of "$3")" endpoint "$4"
	fi
}

# --- topologies -----------------------------------------------------------

# Two sites joined by an underlay veth (a:u0 <-> b:u0).  $1 = 4 or 6 picks
# the underlay family; the endpoints are then $UNDER_A / $UNDER_B.
underlay_pair() {
	ns_new a
	ns_new b
	veth_pair a u0 b u0
	if [ "$1" = 6 ]; then
		ip -n a addr add fd00::1/64 dev u0 nodad
		ip -n b addr add fd00::2/64 dev u0 nodad
		UNDER_A="[fd00::1]" UNDER_B="[fd00::2]"
	else
		ip -n a addr add 192.168.0.1/24 dev u0
		ip -n b addr add 192.168.0.2/24 dev u0
		UNDER_A=192.168.0.1 UNDER_B=192.168.0.2
	fi
}

# The standard L2 topology: LAN host ha -- br0 [site a] l2wg0 ==wg== l2wg0
# [site b] br0 -- LAN host hb.  All LAN links get l2wg0's MTU ($L2_MTU).
# $1 = 4|6 is the underlay family.  Built with a few `ip -batch` runs: each
# command costs tens of milliseconds under TCG.
l2_sites() {
	for ns in a b ha hb; do ns_new "$ns"; done
	ip -b - <<-EOF || ktap_abort "cannot create the veth links"
	link add u0 netns a type veth peer name u0 netns b
	link add eth0 netns ha type veth peer name lan-ha netns a
	link add eth0 netns hb type veth peer name lan-hb netns b
	EOF
	if [ "${1:-4}" = 6 ]; then
		UNDER_A="[fd00::1]" UNDER_B="[fd00::2]"
		l2_site a fd00::1/64 nodad
		l2_site b fd00::2/64 nodad
	else
		UNDER_A=192.168.0.1 UNDER_B=192.168.0.2
		l2_site a 192.168.0.1/24
		l2_site b 192.168.0.2/24
	fi
	wg_keys a
	wg_keys b
	nsx a wg set l2wg0 private-key "$L2WG_DIR/a.key" listen-port 51820 \
		peer "$(pub_of b)" endpoint "$UNDER_B:51820"
	nsx b wg set l2wg0 private-key "$L2WG_DIR/b.key" listen-port 51820 \
		peer "$(pub_of a)" endpoint "$UNDER_A:51820"
	L2_MTU=$(ip -n a -o link show dev l2wg0 | sed 's/.* mtu \([0-9]*\) .*/\1/')
	l2_site_up a ha 1
	l2_site_up b hb 2
}

# l2_site SITE UNDERLAY_ADDR [nodad]: SITE's underlay address, its l2wg0
# and its bridge br0 with l2wg0 and the LAN link to host hSITE.
l2_site() {
	ip -n "$1" -b - <<-EOF || ktap_abort "cannot create an l2wireguard device"
	link set u0 up
	addr add $2 dev u0 $3
	link add l2wg0 type l2wireguard
	link add br0 type bridge stp_state 0 forward_delay 0 group_fwd_mask 0x4008
	link set l2wg0 master br0
	link set lan-h$1 master br0
	EOF
}

# l2_site_up SITE HOST N: everything up, LAN links at l2wg0's MTU, and the
# host's addresses 10.0.0.N/24 and fd10::N/64.
l2_site_up() {
	ip -n "$1" -b - <<-EOF
	link set l2wg0 up
	link set br0 up
	link set lan-$2 mtu $L2_MTU up
	EOF
	ip -n "$2" -b - <<-EOF
	link set eth0 mtu $L2_MTU up
	addr add 10.0.0.$3/24 dev eth0
	addr add fd10::$3/64 dev eth0 nodad
	EOF
}

# The L3 reference: a plain wireguard tunnel wg0 between sites a and b
# (10.9.0.1 <-> 10.9.0.2, fd09::1 <-> fd09::2).
l3_sites() {
	underlay_pair "${1:-4}"
	wg_keys a
	wg_keys b
	wg_device a wg0 wireguard 51821 || ktap_abort "cannot create a wireguard device"
	wg_device b wg0 wireguard 51821 || ktap_abort "cannot create a wireguard device"
	wg_peer a wg0 b "$UNDER_B:51821" "10.9.0.2/32,fd09::2/128"
	wg_peer b wg0 a "$UNDER_A:51821" "10.9.0.1/32,fd09::1/128"
	ip -n a addr add 10.9.0.1/24 dev wg0
	ip -n a addr add fd09::1/64 dev wg0 nodad
	ip -n b addr add 10.9.0.2/24 dev wg0
	ip -n b addr add fd09::2/64 dev wg0 nodad
}

# --- raw frames -----------------------------------------------------------

RAWFRAME=/usr/bin/rawframe

# rawframe_recv NS DEV MAX OUTFILE [QUIET_MS [MATCH]]: start a receiver in
# the background and wait until it listens.  It keeps the frames that MATCH
# (a source MAC in hex, or OFFSET:HEX; default: all) and stops after MAX of
# them, or once the sender is done (the next rawframe_send, or rawframe_sent)
# and QUIET_MS (default 1000, times L2WG_SLOWDOWN) have passed without one
# (frames it does not keep do not count); then `wait $RAWFRAME_PID`.  The
# quiet time counts from the sender's end, not the receiver's start: on a
# busy guest, starting the sender or the handshake in front of the first
# frame can take longer than any quiet time.  If the receiver is not
# listening within 30 s, it says so and returns false:
# frames sent before it listens would be missed, and the check would only
# report fewer of them.
rawframe_recv() {
	rawframe_start listen "$@" || return 1
	RAWFRAME_LISTENERS="$RAWFRAME_LISTENERS $4.ready"
}

# rawframe_recv_remote NS DEV MAX OUTFILE [QUIET_MS [MATCH]]: the same, for
# frames another guest sends (ci/interop): no local sender says when it is
# done, so QUIET_MS counts from the receiver's start.
rawframe_recv_remote() {
	rawframe_start recv "$@"
}

# rawframe_start MODE NS DEV MAX OUTFILE [QUIET_MS [MATCH]]: rawframe MODE
# (listen or recv) in the background, and wait until it listens.
rawframe_start() {
	rm -f "$5.ready"
	nsx "$2" "$RAWFRAME" "$1" "$3" $((${6:-1000} * ${L2WG_SLOWDOWN:-1})) "$4" "$5.ready" $7 >"$5" &
	RAWFRAME_PID=$!
	wait_until 30 test -s "$5.ready" && return
	echo "# rawframe $1 on $2 $3 not listening after 30 s"
	return 1
}

# rawframe_sent: tell the receivers of rawframe_recv that the sender is done
# (rawframe_send does), so their quiet time starts.
rawframe_sent() {
	for ready in $RAWFRAME_LISTENERS; do
		kill -USR1 "$(cat "$ready")" 2>/dev/null
	done
	RAWFRAME_LISTENERS=""
}

# rawframe_send NS DEV FILE [PAUSE_US]: send each frame of FILE (hex, one a
# line), then rawframe_sent.
rawframe_send() {
	nsx "$1" "$RAWFRAME" send "$2" "$3" $4
	_rc=$?
	rawframe_sent
	return $_rc
}

# eth_frame SRC DST TYPE LEN ZEROS SEED: hex of a LEN-byte frame from SRC to
# DST (MACs in hex); TYPE is the hex after the MACs (ethertype, length, or
# tag + ethertype); the payload is rawframe's pattern from SEED, its last
# ZEROS bytes zero.
eth_frame() {
	_header="$2$1$3"
	echo "$_header$("$RAWFRAME" fill $(($4 - ${#_header} / 2)) "$6" "$5")"
}

# stp_bpdu SRC: the STP configuration BPDU from SRC: 802.3 length 38, LLC
# 42 42 03, 35 bytes of BPDU, padded with zeros to 60 bytes.
stp_bpdu() {
	echo "0180c2000000${1}0026424203000000000080000200000000010000000080000200000000018001000014000200" \
		"0f000000000000000000" | tr -d ' '
}

# hex of a MAC address: 02:00:00:00:00:01 -> 020000000001
mac_hex() {
	echo "$1" | tr -d ':'
}

# neigh_is NS ADDR MAC: NS's neighbour entry for ADDR on eth0 has MAC.
neigh_is() {
	_entry=$(ip -n "$1" neigh show "$2" dev eth0)
	echo "$_entry"
	case $_entry in *"lladdr $3"*) return 0 ;; esac
	return 1
}

# handshake_done NS DEV: every peer of DEV has completed a handshake.
handshake_done() {
	nsx "$1" wg show "$2" latest-handshakes | awk '$2 == 0 { bad = 1 } END { exit bad || NR == 0 }'
}

# --- several sites --------------------------------------------------------

# l2_underlay SITE...: the sites' namespaces, each with u0 on one underlay
# bridge in namespace "u"; the Nth site's underlay address is 192.168.0.N.
l2_underlay() {
	ns_new u
	ip -n u -b - <<-EOF || ktap_abort "cannot create the underlay"
	link add ub type bridge
	link set ub up
	EOF
	n=1
	for site in "$@"; do
		ns_new "$site"
		ip -n u link add "u-$site" type veth peer name u0 netns "$site"
		ip -n u link set "u-$site" master ub up
		ip -n "$site" link set u0 up
		ip -n "$site" addr add "192.168.0.$n/24" dev u0
		eval "UNDER_$site=192.168.0.$n"
		n=$((n + 1))
	done
}

# l2_device SITE: SITE's l2wg0 (key SITE, see wg_keys), listening on 51820.
l2_device() {
	wg_keys "$1"
	ip -n "$1" link add l2wg0 type l2wireguard || ktap_abort "cannot create an l2wireguard device"
	nsx "$1" wg set l2wg0 private-key "$L2WG_DIR/$1.key" listen-port 51820
}

# l2_peering SITE OTHER...: SITE's l2wg0 gets each OTHER site as a peer.
l2_peering() {
	site=$1
	shift
	for other in "$@"; do
		eval "endpoint=\$UNDER_$other"
		nsx "$site" wg set l2wg0 peer "$(pub_of "$other")" endpoint "$endpoint:51820"
	done
}

# l2_full_mesh: sites a, b and c on one underlay, each with an l2wg0 that
# has the two others as peers.
l2_full_mesh() {
	l2_underlay a b c
	for s in a b c; do l2_device "$s"; done
	l2_peering a b c
	l2_peering b a c
	l2_peering c a b
}

# l2_mesh_up: l2wg0 of a, b and c up with 10.0.0.1-3/24, and a reaching
# both others (so that every peer has an endpoint and a session).
l2_mesh_up() {
	n=1
	for s in a b c; do
		ip -n "$s" addr add "10.0.0.$n/24" dev l2wg0
		ip -n "$s" link set l2wg0 up
		n=$((n + 1))
	done
	reaches a -c 1 10.0.0.2 >/dev/null && reaches a -c 1 10.0.0.3 >/dev/null
}

# l2_lan SITE N: SITE's bridge br0 with l2wg0 and a LAN host hSITE at
# 10.0.0.N/24; everything up.
l2_lan() {
	ns_new "h$1"
	ip link add eth0 netns "h$1" type veth peer name "lan-h$1" netns "$1"
	ip -n "$1" -b - <<-EOF || ktap_abort "cannot create the bridge of site $1"
	link add br0 type bridge stp_state 0 forward_delay 0
	link set l2wg0 master br0
	link set lan-h$1 master br0
	link set l2wg0 up
	link set br0 up
	link set lan-h$1 up
	EOF
	ip -n "h$1" link set eth0 up
	ip -n "h$1" addr add "10.0.0.$2/24" dev eth0
}

# ethtool_stat NS DEV NAME: one of the counters of `ethtool -S DEV`.
ethtool_stat() {
	nsx "$1" /usr/sbin/ethtool -S "$2" | awk -v name="$3:" '$1 == name { print $2 }'
}

# redirect_port NS: a port f0 in NS (MTU 9000, as on a LAN with jumbo frames)
# whose frames tc redirects into NS's l2wg0, whatever their size: the way
# frames of another device reach l2wg0 without the stack's MTU checks.
redirect_port() {
	ip -n "$1" -b - <<-EOF || ktap_abort "cannot create the redirected port"
	link add f0 mtu 9000 type veth peer name f1 mtu 9000
	link set f0 up
	link set f1 up
	EOF
	nsx "$1" /usr/sbin/tc qdisc add dev f1 clsact &&
		nsx "$1" /usr/sbin/tc filter add dev f1 ingress matchall \
			action mirred egress redirect dev l2wg0 ||
		ktap_abort "cannot redirect f1 into l2wg0 with tc"
}

# l2_redirected_pair: a's and b's l2wg0 (underlay already made) peered and
# up, a's port f0 redirected into a's l2wg0; MTU is l2wg0's MTU and MAX the
# longest frame it takes (Ethernet header and two VLAN tags on top).
l2_redirected_pair() {
	l2_device a
	l2_device b
	l2_peering a b
	l2_peering b a
	ip -n a link set l2wg0 up
	ip -n b link set l2wg0 up
	redirect_port a
	MTU=$(ip -n a -o link show dev l2wg0 | sed 's/.* mtu \([0-9]*\) .*/\1/')
	MAX=$((MTU + 14 + 8))
}

# fdb_count NS DEST: how many FDB entries NS's l2wg0 has for peer endpoint DEST.
fdb_count() {
	bridge -n "$1" fdb show dev l2wg0 | grep -c " dst $2 "
}
