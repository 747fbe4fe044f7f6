#!/bin/sh
# The series' own tools/testing/selftests/wireguard/l2.sh (from the kernel
# tree that was built) passes.
# l2wg: slow timeout=300
. /l2wg/checks/lib.sh
require_config CONFIG_WIREGUARD CONFIG_VETH CONFIG_BRIDGE CONFIG_IPV6
require_tool /usr/bin/bash
[ -r /l2wg/upstream/l2.sh ] || ktap_skip_all "the kernel tree has no tools/testing/selftests/wireguard/l2.sh"

ktap_plan 1
# l2.sh stops at the first failing command (set -e) without naming it: an
# ERR trap, set up through BASH_ENV before the script runs, does.
echo 'trap '\''echo "l2.sh: line $LINENO failed (exit $?): $BASH_COMMAND"'\'' ERR' \
	>"$L2WG_DIR/bash_env"
BASH_ENV="$L2WG_DIR/bash_env" /usr/bin/bash /l2wg/upstream/l2.sh >"$L2WG_DIR/l2.log" 2>&1
rc=$?
sed 's/^/# /' "$L2WG_DIR/l2.log" | tail -n 40
if [ $rc = 0 ]; then ktap_ok "l2.sh"; else ktap_fail "l2.sh" "exit $rc"; fi
ktap_finish
