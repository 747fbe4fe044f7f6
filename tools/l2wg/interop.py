"""Interop: two kernels, one QEMU guest each, one bridged l2wireguard link
between them.

``l2wg interop A B`` boots the default builds of kernels A and B at the same
time, each in its own QEMU guest (TCG, one CPU).  Each guest is one site::

    h -- br0 [guest a: kernel A] l2wg0 ==wg over u0== l2wg0 [guest b: kernel B] br0 -- h

``u0`` is the underlay, a link between the two VMs that needs no root, tap
or bridge on the host:

``virtio-net``
    a virtio-net NIC in each guest, the two joined by QEMU's ``-netdev
    dgram`` (UDP on 127.0.0.1, QEMU >= 7.2).  The kernels need CONFIG_PCI,
    CONFIG_VIRTIO_PCI and CONFIG_VIRTIO_NET (ci/kconfig/checks.config has
    them).
``ppp-serial``
    PPP on a second serial port (ttyS1) of each guest, the two joined by a
    TCP chardev on 127.0.0.1: what a kernel without a NIC driver still has
    (CONFIG_PPP_ASYNC, for the pppoe check).  Slower, but a real link
    between two kernels all the same.

``auto`` takes the first both kernels can drive.  Over virtio-net each
guest also gets a LAN port: two more virtio-net NICs, ``lan0`` and
``lanh``, joined to each other (``-netdev dgram`` again), standing for a
switch port and the LAN host behind it.  The ``redirect`` check sends that
port's VLAN into l2wireguard with tc, the use case of people who tried it
with an L3 ``wg0``.

  Each guest's init
(ci/guest/init.sh, ``L2WG_MODE=interop``) runs the checks of ci/interop/
one after the other: ``topology`` first (it sets the site up and waits for
the other's), then the others, each from its own side -- so every check
runs both ways.  The keys are made with ``wg genkey`` for each run.

The host sees both consoles: a guest that has finished keeps its site up
while the other still answers, and is ended once both have finished.  Each
console's KTAP becomes a SuiteReport (``guest`` = its role), written as
results.json and junit.xml and shown with one column per guest, in
``$L2WG_HOME/interop/A-B/<stamp>/`` with both console logs and the exact
QEMU commands.

A guest may also be Debian's own kernel with the DKMS-built module,
``dkms:K`` (K a kernels.toml entry with ``dkms_headers``): it boots what the
last ``l2wg dkms K`` laid out for its first headers package (packages.py:
Debian's vmlinuz, and the modules to insmod, the DKMS-built wireguard.ko
among them).  Debian's kernel is modular, so what a guest of it needs -- the
``require_config`` options of the checks here and of ci/checks/, and
UNDERLAY_CONFIG -- is loaded as modules when it is ``=m`` there
(packages.guest_configs); an ``=m`` option counts for an underlay only when
the artifacts say its modules are loaded (boot.Artifacts.options).  Debian
has VIRTIO_NET (a module) and PPP_ASYNC, as the kernels built here have
both, so ``auto`` takes virtio-net for any pair of them.
"""

from __future__ import annotations

import json
import shlex
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from . import boot, distkernel, guest, ktap, packages, qemu, report, stamps, testpatch
from . import checks as checks_mod
from .errors import BadInput, L2wgError
from .kernels import Kernel, Matrix
from .progress import Progress, silent
from .report import SuiteReport
from .runner import run
from .workspace import Workspace

INTEROP_DIR = checks_mod.CHECKS_DIR.parent / "interop"
#: A guest of Debian's own kernel with the DKMS module: "dkms:7.3".
DKMS_PREFIX = "dkms:"
#: ... with a test patch in that module: "dkms:7.3+future-format" (testpatch.py).
TEST_PATCH_SEPARATOR = "+"
#: The check that sets up each site; always run, and first.
TOPOLOGY = "topology"
ROLES = ("a", "b")
UNDERLAYS = ("virtio-net", "ppp-serial")
#: What each underlay needs in a kernel's config.
UNDERLAY_CONFIG = {
    "virtio-net": ("CONFIG_PCI", "CONFIG_VIRTIO_PCI", "CONFIG_VIRTIO_NET"),
    "ppp-serial": ("CONFIG_PPP", "CONFIG_PPP_ASYNC", "CONFIG_SERIAL_8250"),
}
#: The underlay NIC's MAC address per role (locally administered).
UNDERLAY_MAC = {"a": "52:54:00:4c:32:01", "b": "52:54:00:4c:32:02"}
#: The LAN port's NIC and the NIC of the LAN host behind it, per role.
LAN_MAC = {"a": "52:54:00:4c:33:01", "b": "52:54:00:4c:33:02"}
LAN_HOST_MAC = {"a": "52:54:00:4c:34:01", "b": "52:54:00:4c:34:02"}
#: The underlay addresses the init's hold probes (ci/interop/lib.sh has the same).
UNDERLAY_IP = {"a": "192.168.0.1", "b": "192.168.0.2"}
MEMORY_MB = 512
CPUS = 1


@dataclass(frozen=True)
class Keypair:
    private: str
    public: str


@dataclass(frozen=True)
class Guest:
    """One side of the pair: a role and the kernel build it boots (a kernels.toml
    entry, or "dkms:K": Debian's kernel with K's DKMS module)."""

    role: str
    kernel: str
    artifacts: boot.Artifacts

    @property
    def test_patch(self) -> str:
        """The ci/test-patches/ patch in its module ("dkms:K+NAME"), else ""."""
        return split_name(self.kernel)[1]

    @property
    def label(self) -> str:
        return f"{self.role}:{self.kernel}"

    @property
    def remake(self) -> str:
        """The command that makes this guest's artifacts again."""
        if self.kernel.startswith(DKMS_PREFIX):
            return f"l2wg dkms {split_name(self.kernel)[0].removeprefix(DKMS_PREFIX)}"
        return f"l2wg build {self.kernel}"


@dataclass(frozen=True)
class Link:
    """The underlay between the two guests and the ports it uses on 127.0.0.1."""

    underlay: str
    #: virtio-net: the UDP port of a, then b's; ppp-serial: the one TCP port.
    ports: tuple[int, ...]
    #: The address family of the WireGuard endpoints over the underlay.
    family: int = 4
    #: virtio-net: the UDP ports of a's LAN port pair (lan0, lanh), then b's;
    #: none over ppp-serial (a kernel without a NIC driver has no LAN port).
    lan_ports: tuple[int, ...] = ()


@dataclass
class InteropResult:
    """The outcome of one ``l2wg interop`` run."""

    guests: tuple[Guest, Guest]
    link: Link
    run_dir: Path
    accelerator: qemu.Accelerator
    suites: list[SuiteReport]
    commands: dict[str, str]
    #: Wall time from the first QEMU's start to the last one's end.
    seconds: float
    errors: list[str] = field(default_factory=list)
    #: Each guest's vCPUs (QEMU -smp).
    cpus: int = CPUS

    @property
    def ok(self) -> bool:
        return not self.errors and all(s.ok for s in self.suites)


# --- the kernels ---------------------------------------------------------------

def split_name(name: str) -> tuple[str, str]:
    """"dkms:7.3+future-format" -> ("dkms:7.3", "future-format"); "7.3" -> ("7.3", "")."""
    base, _, patch = name.partition(TEST_PATCH_SEPARATOR)
    return base, patch


def entry(name: str, matrix: Matrix) -> Kernel:
    """The kernels.toml entry of guest *name*: *name* itself, or K for ``dkms:K``
    (and ``dkms:K+PATCH``, PATCH in ci/test-patches/: only a DKMS guest's module
    can be patched), whose dkms_headers must name the Debian kernel; BadInput
    for anything else."""
    name, patch = split_name(name)
    if patch and not name.startswith(DKMS_PREFIX):
        raise BadInput(f"{name}{TEST_PATCH_SEPARATOR}{patch}: a test patch goes with a DKMS "
                       f"guest only ({DKMS_PREFIX}K{TEST_PATCH_SEPARATOR}{patch}): it is "
                       "applied to the DKMS module's source")
    if patch:
        testpatch.find(patch)
    kernel = matrix.get(name.removeprefix(DKMS_PREFIX))
    if name.startswith(DKMS_PREFIX) and not kernel.dkms_headers:
        raise BadInput(f"{name}: kernels.toml gives {kernel.name} no dkms_headers, so there "
                       "is no Debian kernel to boot with its DKMS module")
    return kernel


def find_guest(role: str, name: str, matrix: Matrix, ws: Workspace,
               progress: Progress | None = None) -> Guest:
    """The default build of kernels.toml entry *name*, or with ``dkms:K`` the guest
    of K's last DKMS build, and with ``dkms:K+PATCH`` that guest with its module
    rebuilt with ci/test-patches/PATCH.patch (testpatch.py); one clear error if
    there is none (or the name is not a kernels.toml entry)."""
    kernel = entry(name, matrix)
    base, patch = split_name(name)
    if patch:
        dkms_artifacts(base, kernel, ws)
        made = testpatch.patched_guest(kernel, testpatch.find(patch), matrix, ws,
                                       progress or silent())
        return Guest(role, name, boot.Artifacts.load(made))
    if name.startswith(DKMS_PREFIX):
        return Guest(role, name, dkms_artifacts(name, kernel, ws))
    directory = ws.artifacts(kernel.name, "default")
    if not (directory / "bzImage").is_file() or not (directory / "metadata.json").is_file():
        raise L2wgError(f"kernel {kernel.name} is not built: no bzImage and metadata.json "
                        f"in {directory} (run: l2wg build {kernel.name})")
    return Guest(role, kernel.name, boot.Artifacts.load(directory))


def find_pair(ws: Workspace, matrix: Matrix, kernel_a: str, kernel_b: str,
              progress: Progress | None = None) -> tuple[Guest, Guest]:
    """Guests a and b; both names are checked before either build."""
    for name in (kernel_a, kernel_b):
        entry(name, matrix)
    return (find_guest("a", kernel_a, matrix, ws, progress),
            find_guest("b", kernel_b, matrix, ws, progress))


def required_config() -> list[str]:
    """What l2wg interop may need of a guest's kernel: the ``require_config``
    options of its checks, then every underlay's (UNDERLAY_CONFIG)."""
    configs = [c for check in checks_mod.discover(INTEROP_DIR).values() for c in check.configs]
    configs += [c for options in UNDERLAY_CONFIG.values() for c in options]
    return list(dict.fromkeys(configs))


def dkms_artifacts(name: str, kernel: Kernel, ws: Workspace) -> boot.Artifacts:
    """The guest the last ``l2wg dkms K`` laid out (its first headers package's),
    checked to load a module for each ``=m`` option interop needs."""
    _, proof = packages.last_guest(kernel.name, ws, name)
    again = f"(run: l2wg dkms {kernel.name})"
    artifacts = boot.Artifacts.load(proof.boot_artifacts)
    modular = {opt for opt, value in distkernel.config_values(artifacts.config).items()
               if value == "m"}
    unloaded = [opt for opt in required_config() if opt in modular - artifacts.options()]
    if unloaded:
        raise L2wgError(f"{name}: {artifacts.directory} loads no module for "
                        f"{', '.join(unloaded)} (=m in Debian's config), which l2wg interop "
                        f"needs: it was laid out by an older l2wg {again}")
    return artifacts


def missing_config(artifacts: boot.Artifacts, underlay: str) -> list[str]:
    """The options *underlay* needs that the guest does not have: built in, or
    as modules it loads (boot.Artifacts.options)."""
    have = artifacts.options()
    return [opt for opt in UNDERLAY_CONFIG[underlay] if opt not in have]


def choose_underlay(guests: Sequence[Guest], requested: str = "auto") -> str:
    """*requested*, or with "auto" the first of UNDERLAYS both kernels can drive."""
    if requested not in ("auto", *UNDERLAYS):
        raise BadInput(f"unknown underlay {requested!r} (auto, {', '.join(UNDERLAYS)})")
    for underlay in UNDERLAYS if requested == "auto" else (requested,):
        lacking = [(g, missing_config(g.artifacts, underlay)) for g in guests]
        if not any(v for _, v in lacking):
            return underlay
        if requested != "auto":
            what = "; ".join(f"{g.kernel} lacks {', '.join(v)} (remake: {g.remake})"
                             for g, v in lacking if v)
            raise L2wgError(f"underlay {underlay}: {what}")
    raise L2wgError("no underlay both kernels can drive: " + "; ".join(
        f"{u} needs {', '.join(UNDERLAY_CONFIG[u])}" for u in UNDERLAYS))


# --- the checks ------------------------------------------------------------------

def select(names: Sequence[str] | None, test_patches: Sequence[str] = ()
           ) -> list[checks_mod.Check]:
    """The interop checks named, with topology first.  By default all of them;
    with a test-patched guest (*test_patches*), only the check of each patch's
    name: such a pair does not speak one format, so the others cannot pass."""
    if names is None and test_patches:
        names = [p for p in test_patches if p in checks_mod.discover(INTEROP_DIR)]
        if not names:
            raise BadInput(f"no interop check is named after test patch(es) "
                           f"{', '.join(test_patches)}: name the checks with --check")
    chosen = checks_mod.select(names, INTEROP_DIR)
    topology = checks_mod.discover(INTEROP_DIR)[TOPOLOGY]
    return [topology] + [c for c in chosen if c.name != TOPOLOGY]


def pair_checks(guests: Sequence[Guest], names: Sequence[str] | None
                ) -> list[checks_mod.Check]:
    """The checks *guests* run (select), given their test patches."""
    return select(names, list(dict.fromkeys(g.test_patch for g in guests if g.test_patch)))


def describe() -> str:
    return checks_mod.describe(INTEROP_DIR)


def make_keys(log: Path) -> dict[str, Keypair]:
    """A fresh WireGuard keypair per role, from the host's wg."""
    keys = {}
    for role in ROLES:
        private = run(["wg", "genkey"], log_path=log, what="wg genkey").output.strip()
        public = run(["wg", "pubkey"], input=private + "\n", log_path=log,
                     what="wg pubkey").output.strip()
        keys[role] = Keypair(private, public)
    return keys


def other(role: str) -> str:
    return ROLES[1 - ROLES.index(role)]


def run_conf(role: str, link: Link, selected: Sequence[checks_mod.Check],
             keys: dict[str, Keypair], slowdown: int = 1, hold: int = 600,
             test_patches: dict[str, str] | None = None) -> str:
    """/l2wg/run.conf of the guest in *role*: boot.run_conf's settings, then
    the interop ones (ci/interop/lib.sh reads them)."""
    settings = {
        "L2WG_CHECK_DIR": "/l2wg/interop",
        "L2WG_ISOLATE": "0",
        "L2WG_ROLE": role,
        "L2WG_UNDERLAY": link.underlay,
        "L2WG_UNDERLAY_MAC": UNDERLAY_MAC[role],
        "L2WG_FAMILY": str(link.family),
        "L2WG_PEER_UNDERLAY": UNDERLAY_IP[other(role)],
        "L2WG_PRIVATE_KEY": keys[role].private,
        "L2WG_PEER_PUBLIC_KEY": keys[other(role)].public,
        "L2WG_HOLD": str(hold),
        # the ci/test-patches/ patch in this guest's module and in the other's ("": none)
        "L2WG_TEST_PATCH": (test_patches or {}).get(role, ""),
        "L2WG_PEER_TEST_PATCH": (test_patches or {}).get(other(role), ""),
    }
    if link.lan_ports:
        settings |= {"L2WG_LAN_MAC": LAN_MAC[role], "L2WG_LAN_HOST_MAC": LAN_HOST_MAC[role]}
    return boot.run_conf("interop", selected, 1, slowdown) + "".join(
        f"{name}={shlex.quote(value)}\n" for name, value in settings.items())


def overlay_files(g: Guest, conf: str, helpers: dict[str, Path] | None = None
                  ) -> dict[str, bytes]:
    """The per-run files of a guest: boot's (kernel config, modules), its
    run.conf, the interop checks and *helpers* (guest path -> host file: the
    XDP objects, guest.build_xdp_objects)."""
    files = boot.overlay_files(g.artifacts, "interop", [], None)
    files["l2wg/run.conf"] = conf.encode()
    for script in sorted(INTEROP_DIR.glob("*.sh")):
        files[f"l2wg/interop/{script.name}"] = script.read_bytes()
    for guest_path, source in (helpers or {}).items():
        files[guest_path] = source.read_bytes()
    return files


def checks_key(ws: Workspace, guests: Sequence[Guest], checks: Sequence[str] | None = None,
               underlay: str = "auto", family: int = 4,
               programs: guest.GuestPrograms = guest.GuestPrograms()) -> str:
    """The up-to-date key of an interop run (stamps.py): what the two guests
    would see.  Each guest's name and kernel (image, config, modules: a DKMS
    or test-patched module included), the guest initramfs, every file of
    ci/interop/ (checks, lib.sh, the XDP source), and which checks run over
    which underlay.  The keys (fresh each run) and the ports are not inputs."""
    return stamps.digest({
        "guests": {g.role: [g.kernel, g.artifacts.image_digest()] for g in guests},
        "initramfs": guest.build_initramfs(ws, extra=programs).key,
        "interop": stamps.files_digest(sorted(p for p in INTEROP_DIR.iterdir() if p.is_file())),
        "checks": [c.name for c in pair_checks(guests, checks)], "underlay": underlay,
        "family": family})


def stamp(ws: Workspace, guests: Sequence[Guest]) -> stamps.Stamp:
    """Where the pipeline keeps the pair's last passing run (stamps.py)."""
    return stamps.Stamp(ws.interop / pair_directory(guests) / "checks.stamp.json")


# --- QEMU -----------------------------------------------------------------------

def free_ports(count: int, kind: socket.SocketKind) -> tuple[int, ...]:
    """*count* distinct ports on 127.0.0.1 that are free now (UDP or TCP)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return tuple(s.getsockname()[1] for s in sockets)
    finally:
        for s in sockets:
            s.close()


def new_link(underlay: str, family: int = 4) -> Link:
    if underlay == "virtio-net":
        ports = free_ports(6, socket.SOCK_DGRAM)
        return Link(underlay, ports[:2], family, lan_ports=ports[2:])
    return Link(underlay, free_ports(1, socket.SOCK_STREAM), family)


def underlay_args(link: Link, role: str) -> tuple[str, ...]:
    """The QEMU arguments of *role*'s end of the underlay.  No default NIC (QEMU
    adds a user-mode e1000 otherwise, and SeaBIOS runs its iPXE ROM at boot)."""
    if link.underlay == "virtio-net":
        mine, theirs = (link.ports if role == "a" else link.ports[::-1])
        return ("-nic", "none") + dgram_nic("u0", UNDERLAY_MAC[role], mine, theirs)
    # A second -serial replaces -nographic's default one: name the console too.
    # a listens, b connects (and retries until a's QEMU listens).
    port = link.ports[0]
    end = "server=on,wait=off" if role == "a" else "reconnect=1"
    return ("-nic", "none", "-serial", "mon:stdio",
            "-chardev", f"socket,id=u0,host=127.0.0.1,port={port},{end}",
            "-serial", "chardev:u0")


def dgram_nic(name: str, mac: str, local: int, remote: int) -> tuple[str, ...]:
    """A virtio-net NIC whose frames go to UDP port *remote* on 127.0.0.1."""
    return ("-netdev", f"dgram,id={name},local.type=inet,local.host=127.0.0.1,"
                       f"local.port={local},remote.type=inet,remote.host=127.0.0.1,"
                       f"remote.port={remote}",
            "-device", f"virtio-net-pci,netdev={name},mac={mac}")


def lan_args(link: Link, role: str) -> tuple[str, ...]:
    """*role*'s LAN port: lan0 and lanh, each the other's only neighbour."""
    if not link.lan_ports:
        return ()
    port, host = link.lan_ports[0:2] if role == "a" else link.lan_ports[2:4]
    return (dgram_nic("lan0", LAN_MAC[role], port, host)
            + dgram_nic("lanh", LAN_HOST_MAC[role], host, port))


def machine(g: Guest, initrd: Path, link: Link, accel: str, cpus: int = CPUS) -> qemu.Machine:
    return qemu.Machine(kernel=g.artifacts.bzimage, initrd=initrd, accel=accel,
                        memory_mb=MEMORY_MB, cpus=cpus,
                        extra_args=underlay_args(link, g.role) + lan_args(link, g.role))


def time_limits(selected: Sequence[checks_mod.Check]) -> tuple[float, float]:
    """(whole run, longest console silence) of each guest, in seconds; a guest
    may wait for the other one all along, so its limit covers both."""
    whole, idle = boot.time_limits("checks", selected)
    assert whole is not None and idle is not None
    return 2 * whole, idle


def boot_pair(machines: dict[str, qemu.Machine], run_dir: Path, *, timeout: float,
              idle_timeout: float,
              on_line: dict[str, Callable[[str], None]] | None = None
              ) -> dict[str, qemu.Console]:
    """Boot both guests at once (a first); end each once both have printed
    their done marker (or the other's QEMU has ended)."""
    finished = {role: threading.Event() for role in machines}

    def stopper(role: str) -> Callable[[str], bool]:
        def stop(line: str) -> bool:
            if qemu.DONE_MARKER in line:
                finished[role].set()
            return finished[role].is_set() and finished[other(role)].is_set()
        return stop

    def one(role: str) -> qemu.Console:
        try:
            return qemu.boot(machines[role], run_dir / f"console-{role}.log", timeout=timeout,
                             idle_timeout=idle_timeout, stop=stopper(role),
                             on_line=(on_line or {}).get(role), cancel=cancel)
        finally:
            finished[role].set()

    # An error in one guest's thread, or Ctrl-C or SIGTERM in this one, ends
    # the other QEMU at once: the pool would otherwise wait for it to end by
    # itself, up to its time limit.
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=len(machines)) as pool:
        futures = {role: pool.submit(one, role) for role in machines}
        try:
            for future in wait(futures.values(), return_when=FIRST_EXCEPTION).done:
                future.result()     # raises the first error, before waiting for the other
            return {role: future.result() for role, future in futures.items()}
        finally:
            cancel.set()


class LiveStatus:
    """One guest's console lines to --console (prefixed), its results to the progress."""

    def __init__(self, label: str, progress: Progress,
                 on_console: Callable[[str], None] | None):
        self.label = label
        self.progress = progress
        self.on_console = on_console

    def __call__(self, line: str) -> None:
        line = line.replace("\r", "")
        if self.on_console:
            self.on_console(f"[{self.label}] {line}")
        if not line.startswith(" ") and (test := ktap.parse_result(line)):
            self.progress.update(f"{self.label} {test.name}: {test.status.value.upper()}",
                                 force=True)


# --- the run ----------------------------------------------------------------------

def interop(ws: Workspace, guests: tuple[Guest, Guest], *,
            checks: Sequence[str] | None = None, underlay: str = "auto", family: int = 4,
            accel: str | None = None, progress: Progress | None = None,
            on_console: Callable[[str], None] | None = None,
            programs: guest.GuestPrograms = guest.GuestPrograms(),
            cpus: int | None = None) -> InteropResult:
    """Run the interop checks between *guests* (find_pair); see the module's
    docstring.  Each guest gets *cpus* vCPUs (default CPUS: two guests share
    the host's cores); an SMP kernel that brings up fewer is a run error."""
    progress = progress or silent()
    if family not in (4, 6):
        raise BadInput(f"--family {family}: 4 or 6")
    cpus = guests[0].artifacts.cpus(cpus, default=CPUS)
    patches = {g.role: g.test_patch for g in guests if g.test_patch}
    selected = pair_checks(guests, checks)
    chosen = choose_underlay(guests, underlay)
    slowdown = max(boot.timeout_factor(g.artifacts.config) for g in guests)
    selected = checks_mod.scaled(selected, slowdown)
    timeout, idle = time_limits(selected)

    run_dir = boot.new_run_dir(ws.interop / pair_directory(guests))
    log = run_dir / "interop.log"
    base = guest.build_initramfs(ws, run_dir / "guest.log", programs)
    progress.step(guest.describe(base))
    accelerator = qemu.Accelerator(accel, "requested") if accel else \
        qemu.accelerator(ws, guests[0].artifacts.bzimage, run_dir / "accel-probe.log")
    progress.step(f"accelerator: {accelerator.name} ({accelerator.reason})")
    keys = make_keys(log)
    helpers = guest.build_xdp_objects(ws, log)
    link = new_link(chosen, family)
    machines, commands = {}, {}
    for g in guests:
        conf = run_conf(g.role, link, selected, keys, slowdown, hold=int(timeout),
                        test_patches=patches)
        overlay = guest.write_overlay(run_dir / f"overlay-{g.role}.cpio.gz",
                                      overlay_files(g, conf, helpers), log)
        initrd = guest.combine([base.path, overlay], run_dir / f"initrd-{g.role}.gz")
        overlay.unlink()
        machines[g.role] = machine(g, initrd, link, accelerator.name, cpus)
        commands[g.role] = shlex.join(qemu.command(machines[g.role]))
        (run_dir / f"command-{g.role}.sh").write_text(f"#!/bin/sh\n{commands[g.role]}\n")
    progress.step(f"booting {guests[0].label} and {guests[1].label} over {link.underlay} "
                  f"(127.0.0.1 ports {', '.join(map(str, link.ports))}), "
                  f"checks: {' '.join(c.name for c in selected)}")
    start = time.monotonic()
    consoles = boot_pair(machines, run_dir, timeout=timeout, idle_timeout=idle,
                         on_line={g.role: LiveStatus(g.label, progress, on_console)
                                  for g in guests})
    seconds = time.monotonic() - start
    progress.done()

    suites = []
    for g in guests:
        suite = boot.suite_report(g.kernel, accelerator.name, selected, consoles[g.role])
        suite.errors += boot.missing_cpus(consoles[g.role].text, g.artifacts.config, cpus)
        suite.guest = g.role
        suites.append(suite)
    result = InteropResult(guests=guests, link=link, run_dir=run_dir, accelerator=accelerator,
                           suites=suites, commands=commands, seconds=seconds, cpus=cpus)
    write_results(result)
    boot.link_latest(run_dir.parent, run_dir)
    return result


def pair_directory(guests: Sequence[Guest]) -> str:
    """The pair's directory under $L2WG_HOME/interop: "7.3-6.1", "7.3-dkms-7.3"
    (no ':' in a path QEMU is given)."""
    return "-".join(g.kernel.replace(":", "-") for g in guests)


def summary(result: InteropResult) -> dict:
    """interop.json: what ran, over what, how long."""
    return {"kernels": {g.role: g.kernel for g in result.guests},
            "run_dir": str(result.run_dir),
            "underlay": result.link.underlay, "family": result.link.family,
            "ports": list(result.link.ports), "lan_ports": list(result.link.lan_ports),
            "accelerator": result.accelerator.name, "cpus": result.cpus,
            "seconds": round(result.seconds, 2),
            "guest_seconds": {s.guest: round(s.seconds, 2) for s in result.suites},
            "commands": result.commands, "ok": result.ok}


def write_results(result: InteropResult) -> None:
    report.write_json(result.suites, result.run_dir / "results.json")
    report.write_junit(result.suites, result.run_dir / "junit.xml")
    (result.run_dir / "interop.json").write_text(json.dumps(summary(result), indent=2) + "\n")


def table(result: InteropResult) -> str:
    a, b = result.guests
    head = (f"interop {a.kernel} <-> {b.kernel} over {result.link.underlay} "
            f"(IPv{result.link.family} endpoints): {result.seconds:.1f}s")
    return head + "\n" + report.guest_table(result.suites)
