"""A working 127.0.0.1 for the test run, also in a network namespace without one.

The unit tests serve a Debian archive, tarballs and git repositories on
127.0.0.1.  Run offline as README.md says (``unshare -n ...``), the process
starts in a new network namespace whose only device, ``lo``, is down: nothing
can be reached, not even 127.0.0.1.

Then, and only then -- no network device but ``lo``, and 127.0.0.1 does not
answer -- the test process moves into a network namespace of its own
(unshare(CLONE_NEWNET)) and brings ``lo`` up there.  The namespace it was
started in is left exactly as it was, and so is every other: the run changes
only a namespace it made itself, which vanishes with it.  Its child processes
(apt, git, gpg) inherit it.  A run with a real network (``lo`` up) is not
touched at all, so the integration tests keep the network they need.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess

CLONE_NEWNET = 0x40000000


def works() -> bool:
    """Whether a TCP connection to 127.0.0.1 can be made in this namespace."""
    try:
        with socket.socket() as server, socket.socket() as client:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            client.settimeout(2)
            client.connect(server.getsockname())
        return True
    except OSError:
        return False


def isolated() -> bool:
    """No network device but the loopback one (as in ``unshare -n``)."""
    return {name for _, name in socket.if_nameindex()} <= {"lo"}


def ensure() -> str | None:
    """Make 127.0.0.1 work when the process has no network at all; say what was done."""
    if works() or not isolated():
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        error = os.strerror(ctypes.get_errno())
        raise RuntimeError(f"127.0.0.1 is unreachable (lo is down) and this process cannot "
                           f"make a network namespace of its own ({error}): run the tests as "
                           "root, or under 'unshare -rn'")
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise RuntimeError(f"'ip link set lo up' in the test run's own network namespace "
                           f"failed: {error}") from None
    if not works():
        raise RuntimeError("127.0.0.1 is still unreachable after 'ip link set lo up' in the "
                           "test run's own network namespace")
    return "127.0.0.1: lo brought up in the test run's own network namespace"
