"""A small stand-in of Debian's unpacked linux-image and of a kernel tree's
kbuild lines, with the real layout and values where they matter: the guest of
Debian's kernel with the DKMS module is laid out from it by the real code
(packages.lay_out_guest), and tests boot nothing.

The config has every option the guests may need (packages.guest_configs) built
in, except those Debian's amd64 7.3.4 config has as modules: they are ``=m``
here too, each with the kbuild line that names its module and modules.dep
lines that give it Debian's dependencies.  CONFIG_WIREGUARD_DEBUG is not set,
as in Debian's.
"""

from __future__ import annotations

import lzma
from dataclasses import asdict
from pathlib import Path

from l2wg import distkernel, packages
from l2wg.kernels import DkmsHeaders, Kernel, SourceSpec
from l2wg.workspace import Workspace

RELEASE = "7.3.4+deb13-amd64"
#: Debian's modular options: (kbuild directory, module, its dependencies in modules.dep).
MODULAR = {
    "CONFIG_WIREGUARD": ("drivers/net/wireguard", "wireguard", ["udp_tunnel", "ip6_udp_tunnel"]),
    "CONFIG_BRIDGE": ("net/bridge", "bridge", ["stp", "llc"]),
    "CONFIG_VETH": ("drivers/net", "veth", []),
    "CONFIG_VLAN_8021Q": ("net/8021q", "8021q", ["garp", "mrp"]),
    "CONFIG_NET_SCH_INGRESS": ("net/sched", "sch_ingress", []),
    "CONFIG_NET_CLS_MATCHALL": ("net/sched", "cls_matchall", []),
    "CONFIG_NET_ACT_MIRRED": ("net/sched", "act_mirred", []),
    "CONFIG_PPP": ("drivers/net/ppp", "ppp_generic", ["slhc"]),
    "CONFIG_PPP_ASYNC": ("drivers/net/ppp", "ppp_async", ["ppp_generic", "slhc", "crc_ccitt"]),
    "CONFIG_PPPOE": ("drivers/net/ppp", "pppoe", ["pppox", "ppp_generic", "slhc"]),
    "CONFIG_VIRTIO_NET": ("drivers/net", "virtio_net", ["net_failover", "failover"]),
}
UNSET = ("CONFIG_WIREGUARD_DEBUG",)
DKMS_MODULE = b"the DKMS-built wireguard.ko"


def debian_kernel(root: Path, modular: dict = MODULAR) -> tuple[distkernel.DistKernel, Path]:
    """(Debian's linux-image, unpacked in *root*/dist as fetch_image leaves it (7.x
    layout), the kernel tree of *root*/tree whose kbuild lines name its modules)."""
    dist = distkernel.DistKernel(RELEASE, f"linux-image-{RELEASE}", "7.3.4-1~bpo13+1",
                                 root / "dist")
    (dist.root / "usr" / "lib" / "modules" / RELEASE).mkdir(parents=True)   # 7.x: merged /usr
    assert dist.merged_usr
    dist.vmlinuz.write_bytes(b"Debian's vmlinuz")
    lines = []
    for option in packages.guest_configs():
        if option in UNSET:
            lines.append(f"# {option} is not set")
        else:
            lines.append(f"{option}={'m' if option in modular else 'y'}")
    dist.config.write_text("\n".join(lines) + "\n")

    def ko(name: str) -> str:
        return f"kernel/{name}.ko.xz"

    where = {module: directory for directory, module, _ in modular.values()}
    dep, makefiles = {}, {}
    for option, (directory, module, deps) in modular.items():
        dep[ko(f"{directory}/{module}")] = [ko(f"{where.get(d, 'lib')}/{d}") for d in deps]
        for d in deps:
            dep.setdefault(ko(f"{where.get(d, 'lib')}/{d}"), [])
        makefiles.setdefault(directory, []).append(f"obj-$({option}) += {module}.o")
    for path in dep:
        (dist.modules / path).parent.mkdir(parents=True, exist_ok=True)
        (dist.modules / path).write_bytes(lzma.compress(f"stock {path}".encode()))
    (dist.modules / "modules.dep").write_text(
        "".join(f"{path}: {' '.join(deps)}\n" for path, deps in dep.items()))
    tree = root / "tree"
    for directory, obj_lines in makefiles.items():
        (tree / directory).mkdir(parents=True, exist_ok=True)
        (tree / directory / "Makefile").write_text("\n".join(obj_lines) + "\n")
    return dist, tree


def entry(name: str = "7.3") -> Kernel:
    headers = DkmsHeaders.parse(f"linux-headers-{RELEASE}/trixie-backports")
    return Kernel(name, SourceSpec(type="debian", package=f"linux-source-{name}"), version=name,
                  dkms_headers=(headers,))


def dkms_guest(root: Path, kernel: Kernel | None = None, **kw) -> Path:
    """The artifacts directory `l2wg dkms` lays out for *kernel*, from a stand-in
    Debian kernel under *root*."""
    dist, tree = debian_kernel(root, **kw)
    module = root / "wireguard.ko"
    module.write_bytes(DKMS_MODULE)
    return packages.lay_out_guest(kernel or entry(), tree, dist, module, root / f"boot-{RELEASE}")


def record_dkms(ws: Workspace, kernel: Kernel, artifacts: Path | None) -> None:
    """The stamp a successful `l2wg dkms KERNEL` leaves, its proof booting *artifacts*
    (None: made with --no-boot)."""
    out = packages.dkms_dir(ws, kernel.name)
    src = packages.DkmsSource("l2wireguard", "7.3.4+l2wg.0", out / "src", "7.3", "7.3")
    deb = out / "l2wireguard-dkms_7.3.4+l2wg.0_all.deb"
    module = out / "wireguard.ko"
    for path in (src.path, deb, module):
        path.parent.mkdir(parents=True, exist_ok=True)
    src.path.mkdir(exist_ok=True)
    deb.write_bytes(b"deb")
    module.write_bytes(DKMS_MODULE)
    proof = packages.DkmsProof(kernel.dkms_headers[0], RELEASE, module, artifacts)
    result = packages.DkmsResult(kernel.name, src, deb, [proof])
    outputs = [src.path, deb, module] + ([artifacts / "metadata.json"] if artifacts else [])
    packages.dkms_stamp(out).save("key", asdict(result), outputs)
