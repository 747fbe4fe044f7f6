#!/bin/sh
# /init of the l2wg check guest (busybox sh).  Mounts the pseudo file
# systems, runs what /l2wg/run.conf asks for, prints the results as KTAP on
# the serial console and reboots (QEMU runs with -no-reboot, so it exits).
#
# run.conf sets L2WG_MODE (checks|script|shell|interop), L2WG_CHECKS, a list
# of NAME:TIMEOUT (seconds the check may run), L2WG_JOBS (checks at once) and
# L2WG_SLOWDOWN (how many times longer the checks' own waits are: lib.sh).
# Interop mode (l2wg interop: this guest is one site of two, each its own VM)
# runs the checks of L2WG_CHECK_DIR (/l2wg/interop) one after the other, not
# isolated: they share the site the first one (topology) sets up.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=vt100

mount_pseudo_fs() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev 2>/dev/null
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts 2>/dev/null
	mount -t tmpfs tmpfs /tmp
	mount -t tmpfs tmpfs /run
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	mkdir -p /run/netns /var/run /tmp/l2wg
	ln -sf /proc/self/fd /dev/fd
	ln -sf /proc/self/fd/0 /dev/stdin
	ln -sf /proc/self/fd/1 /dev/stdout
	ln -sf /proc/self/fd/2 /dev/stderr
	/usr/sbin/ip link set lo up
}

uptime_seconds() {
	read -r up _ </proc/uptime
	echo "$up"
}

# Kill what a check left running: orphans reparented to us, then its netns.
reap_leftovers() {
	for stat in /proc/[0-9]*/stat; do
		read -r pid _ _ ppid _ <"$stat" 2>/dev/null || continue
		[ "$ppid" = 1 ] && kill -9 "$pid" 2>/dev/null
	done
	/usr/sbin/ip -all netns delete 2>/dev/null
	rm -rf /tmp/l2wg && mkdir -p /tmp/l2wg
}

# run_isolated NAME LIMIT: run check NAME for at most LIMIT seconds in its
# own mount namespace, with private /run/netns and /tmp, so that checks never
# see each other's namespaces or files (and can run side by side).
# It also gets its own PID namespace, whose init is the shell that waits for
# it: when the check ends, or is killed at its limit, the kernel kills all it
# left behind.  A process that outlived its check (a monitor whose wrapper
# alone was killed) kept the check's output pipe open, and the sed of
# run_alone then waited for the end of it for ever.  busybox timeout execs
# the check itself, so the check must not be that init: a namespace's init
# ignores the signals it has no handler for.
# With L2WG_ISOLATE=0 (interop) the check runs in the init's namespaces.
run_isolated() {
	if [ "$L2WG_ISOLATE" = 0 ]; then
		L2WG_SKIP_FILE="/run/l2wg/$1.skip" timeout -s TERM -k 5 "$2" \
			sh "$L2WG_CHECK_DIR/$1.sh" 2>&1
	else
		L2WG_SKIP_FILE="/run/l2wg/$1.skip" unshare -m -p -f --mount-proc sh -c '
			mount -t tmpfs tmpfs /run/netns && mount -t tmpfs tmpfs /tmp || exit 1
			timeout -s TERM -k 5 "$2" sh "$3/$1.sh"
			exit $?' - "$1" "$2" "$L2WG_CHECK_DIR" 2>&1
	fi
	echo $? >"/run/l2wg/$1.rc"
}

# finish_check NUMBER NAME LIMIT START: the end line and the KTAP result.
finish_check() {
	number=$1 name=$2 limit=$3
	rc=$(cat "/run/l2wg/$name.rc")
	seconds=$(awk -v s="$4" '{ printf "%.2f", $1 - s }' "/run/l2wg/$name.end")
	echo "# l2wg: end $name exit=$rc seconds=$seconds"
	case $rc in
	0) echo "ok $number $name" ;;
	4) echo "ok $number $name # SKIP $(cat "/run/l2wg/$name.skip" 2>/dev/null)" ;;
	124 | 137 | 143) echo "not ok $number $name # timed out after ${limit}s" ;;
	*) echo "not ok $number $name" ;;
	esac
}

# run_alone NAME LIMIT: check NAME with nothing beside it, its output
# streamed (indented: a KTAP subtest), then its result.
run_alone() {
	start=$(uptime_seconds)
	run_isolated "$1" "$2" | sed 's/^/    /'
	cp /proc/uptime "/run/l2wg/$1.end"
	[ "$L2WG_ISOLATE" = 0 ] || reap_leftovers
	finish_check "$number" "$1" "$2" "$start"
	number=$((number + 1))
}

# run_each_alone NAME:LIMIT...: one check after the other.
run_each_alone() {
	for item in "$@"; do
		echo "# l2wg: begin ${item%%:*}"
		run_alone "${item%%:*}" "${item#*:}"
	done
}

# needs_alone NAME: whether check NAME must have the kernel to itself
# (L2WG_ALONE; checks.py's ``alone``).  netns.sh counts every keypair and
# peer the kernel log announces, from its oldest record, so it runs first,
# before any other check has made one: beside them, or after them, their
# keypairs would be counted as its own.
needs_alone() {
	case " $L2WG_ALONE " in *" $1 "*) return 0 ;; esac
	return 1
}

# print_check ITEM: the output of check NAME:LIMIT, run in the background,
# and its result.
print_check() {
	name=${1%%:*}
	echo "# l2wg: begin $name"
	sed 's/^/    /' "/run/l2wg/$name.out"
	finish_check "$number" "$name" "${1#*:}" "$(cat "/run/l2wg/$name.start")"
	number=$((number + 1))
}

timed_out() {
	case $(cat "/run/l2wg/$1.rc") in 124 | 137 | 143) return 0 ;; esac
	return 1
}

# Up to L2WG_JOBS checks at once; each one's output is printed whole when
# it ends, so the KTAP stays in one piece.  A check that timed out beside
# others runs once more at the end, alone (retry_alone): a host busy with
# other work can starve a guest's four checks at once.
run_in_parallel() {
	running="" count=0 retry=""
	while [ $# -gt 0 ] || [ -n "$running" ]; do
		if [ $# -gt 0 ] && [ "$count" -lt "$L2WG_JOBS" ]; then
			name=${1%%:*} limit=${1#*:}
			uptime_seconds >"/run/l2wg/$name.start"
			(run_isolated "$name" "$limit" >"/run/l2wg/$name.out"
			 cp /proc/uptime "/run/l2wg/$name.end") &
			running="$running $1" count=$((count + 1))
			shift
			continue
		fi
		still=""
		for item in $running; do
			name=${item%%:*}
			if [ ! -e "/run/l2wg/$name.end" ]; then
				still="$still $item"
			elif timed_out "$name"; then
				echo "# l2wg: $name timed out after ${item#*:}s beside other checks: it runs again alone at the end"
				retry="$retry $item" count=$((count - 1))
			else
				print_check "$item"
				count=$((count - 1))
			fi
		done
		running=$still
		sleep 0.1
	done
	reap_leftovers
	for item in $retry; do
		retry_alone "$item"
	done
}

# retry_alone NAME:LIMIT: the first run's output, then a second run of the
# check with nothing beside it; the second run's result is the check's.
retry_alone() {
	echo "# l2wg: begin ${1%%:*}"
	sed 's/^/    /' "/run/l2wg/${1%%:*}.out"
	echo "# l2wg: retry ${1%%:*} alone"
	run_alone "${1%%:*}" "${1#*:}"
}

run_checks() {
	set -- $L2WG_CHECKS
	mkdir -p /run/l2wg
	echo "KTAP version 1"
	echo "1..$#"
	beside="" alone=""
	for item in "$@"; do
		if needs_alone "${item%%:*}"; then
			alone="$alone $item"
		else
			beside="$beside $item"
		fi
	done
	number=1
	run_each_alone $alone
	if [ "${L2WG_JOBS:-1}" -gt 1 ]; then
		run_in_parallel $beside
	else
		run_each_alone $beside
	fi
}

# kmemleak's documentation warns that a leak may not show on the first scans:
# a stale copy of a pointer (a stack, a register, a freed slab) hides an
# object until it is overwritten, and 7.3 adds min_unref_scans.  Measured
# on 7.3 under TCG, scans 2 s apart after samples/kmemleak leaked: 0, 1, 4, 7
# objects listed; one scan 7 s after, none.  So: five scans, 3 s apart.
scan_kmemleak() {
	for scan in 1 2 3 4 5; do
		sleep 3
		echo scan >/sys/kernel/debug/kmemleak
	done
	cat /sys/kernel/debug/kmemleak
}

# A kmemleak kernel (the debug variant): scan after the checks and print what
# it found, then the count on one line the host reports.
report_kmemleak() {
	[ -w /sys/kernel/debug/kmemleak ] || return 0
	scan_kmemleak
	leaks=$(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak)
	echo "# l2wg: kmemleak scan: ${leaks:-0} unreferenced objects"
}

# kmemleak's control: samples/kmemleak's module leaks a dozen objects as it
# loads; the same scans as the run's own must list them.
plant_leak() {
	insmod /l2wg/built-modules/kmemleak-test.ko || return 0
	scan_kmemleak
}

# A debug kernel: plant one fault per sanitizer (L2WG_CONTROLS, NAME:KIND
# words from tools/l2wg/controls.py); the host expects each to come back as a
# KIND report, or a clean scan proves nothing.  Last, after the run's
# kmemleak scan: the planted faults must not count as the run's.  The markers
# go through the kernel's log (<4>: above loglevel=5), so that the console
# keeps them in order with the reports even when it prints those later; the
# second before each fault lets the console print its marker first.
run_controls() {
	trigger=/sys/kernel/debug/provoke-crash/DIRECT
	[ -n "$L2WG_CONTROLS" ] || return 0
	for control in $L2WG_CONTROLS; do
		echo "<4># l2wg: control ${control%%:*} expects ${control#*:}" >/dev/kmsg
		sleep 1
		case ${control%%:*} in
		KMEMLEAK) plant_leak ;;
		*) [ -w $trigger ] && echo "${control%%:*}" >$trigger ;;
		esac
	done
	echo "<4># l2wg: controls end" >/dev/kmsg
	sleep 2
}

# WireGuard drops handshake messages until the kernel's RNG is ready:
# reading /dev/random blocks until then (it starts the jitter entropy too).
wait_for_rng() {
	dd if=/dev/random of=/dev/null bs=1 count=1 2>/dev/null
}

# A distribution kernel brings its drivers as modules (and a DKMS-built
# wireguard.ko): load what the run lists, in order.
load_modules() {
	for module in /l2wg/modules/*.ko; do
		[ -e "$module" ] || return 0
		insmod "$module" || echo "# l2wg: insmod ${module##*/} failed"
	done
	echo "# l2wg: modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
}

# Interop: the other guest may still be running checks against this one's
# site, so keep it up while the other answers on the underlay
# (L2WG_PEER_UNDERLAY).  The host, which sees both consoles, ends this VM on
# the first line below once the other has finished (a line every 30 s also
# keeps a long wait from looking like a hung guest); run by hand, it ends
# after three unanswered probes, or L2WG_HOLD seconds.
hold_for_peer() {
	misses=0 probes=0
	up=$(uptime_seconds)
	end=$((${up%.*} + ${L2WG_HOLD:-600}))
	while [ "$misses" -lt 3 ]; do
		up=$(uptime_seconds)
		[ "${up%.*}" -lt "$end" ] || break
		if /usr/bin/ping -c 1 -W 1 "$L2WG_PEER_UNDERLAY" >/dev/null 2>&1; then
			misses=0 probes=$((probes + 1))
			[ $((probes % 30)) != 0 ] || echo "# l2wg: holding the site up for the other guest"
			sleep 1
		else
			misses=$((misses + 1))
			echo "# l2wg: the other guest does not answer ($misses of 3)"
		fi
	done
}

mount_pseudo_fs
. /l2wg/run.conf
export L2WG_SLOWDOWN=${L2WG_SLOWDOWN:-1}
export L2WG_CHECK_DIR=${L2WG_CHECK_DIR:-/l2wg/checks}
export L2WG_ISOLATE=${L2WG_ISOLATE:-1}
load_modules
echo "L2WG-BOOTED uptime=$(uptime_seconds)"
# boot.py holds an SMP kernel to the CPUs QEMU gave it (missing_cpus)
echo "# l2wg: cpus online $(grep -c '^processor' /proc/cpuinfo)"
wait_for_rng
echo "# l2wg: rng ready at uptime=$(uptime_seconds)"
case $L2WG_MODE in
checks | interop)
	run_checks
	;;
script)
	# A script with a #! line runs under it; otherwise under bash, where the
	# real ip/bridge/ping come first in PATH (busybox sh prefers its applets).
	echo "L2WG-SCRIPT-BEGIN"
	read -r first_line </l2wg/user-script
	case $first_line in
	"#!"*) /l2wg/user-script ;;
	*) /usr/bin/bash /l2wg/user-script ;;
	esac
	echo "L2WG-SCRIPT-EXIT $?"
	;;
shell)
	echo "l2wg: interactive bash; 'exit' ends the VM (checks: /l2wg/checks/*.sh)"
	setsid cttyhack /usr/bin/bash -l
	;;
esac
report_kmemleak
run_controls
echo "L2WG-DONE uptime=$(uptime_seconds)"
[ "$L2WG_MODE" != interop ] || hold_for_peer
reboot -f
