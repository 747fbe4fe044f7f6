#!/bin/sh
# /init of the l2wg check guest (busybox sh).  Mounts the pseudo file
# systems, runs what /l2wg/run.conf asks for, prints the results as KTAP on
# the serial console and reboots (QEMU runs with -no-reboot, so it exits).
#
# run.conf sets L2WG_MODE (checks|script|shell) and L2WG_CHECKS, a list of
# NAME:TIMEOUT (seconds the check may run).
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

run_one_check() {
	number=$1 name=$2 limit=$3
	echo "# l2wg: begin $name"
	start=$(uptime_seconds)
	rm -f /tmp/l2wg-rc /tmp/l2wg-skip
	{
		timeout -s TERM -k 5 "$limit" sh "/l2wg/checks/$name.sh" 2>&1
		echo $? >/tmp/l2wg-rc
	} | sed 's/^/    /'
	rc=$(cat /tmp/l2wg-rc)
	reap_leftovers
	seconds=$(awk -v s="$start" '{ printf "%.2f", $1 - s }' /proc/uptime)
	echo "# l2wg: end $name exit=$rc seconds=$seconds"
	case $rc in
	0) echo "ok $number $name" ;;
	4) echo "ok $number $name # SKIP $(cat /tmp/l2wg-skip 2>/dev/null)" ;;
	124 | 137 | 143) echo "not ok $number $name # timed out after ${limit}s" ;;
	*) echo "not ok $number $name" ;;
	esac
}

run_checks() {
	set -- $L2WG_CHECKS
	echo "KTAP version 1"
	echo "1..$#"
	number=1
	for item in "$@"; do
		run_one_check "$number" "${item%%:*}" "${item#*:}"
		number=$((number + 1))
	done
}

report_kmemleak() {
	[ -w /sys/kernel/debug/kmemleak ] || return 0
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
}

mount_pseudo_fs
. /l2wg/run.conf
echo "L2WG-BOOTED uptime=$(uptime_seconds)"
case $L2WG_MODE in
checks)
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
echo "L2WG-DONE uptime=$(uptime_seconds)"
reboot -f
