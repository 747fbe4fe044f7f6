"""DKMS packaging: version ranges, dkms.conf, the dh-dkms package, and real
dkms builds against Debian's headers (integration)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from l2wg import distkernel, packages
from l2wg.errors import L2wgError
from l2wg.kernels import DebianArchive, Kernel, SourceSpec

from conftest import BUILT_KERNELS


@pytest.mark.parametrize("release, inside", [
    ("6.12.117+deb12-amd64", True), ("6.12.0", True), ("6.12", True),
    ("6.13.1", False), ("6.1.192", False), ("6.11.99", False),
])
def test_range_of_one_line(release, inside):
    assert packages.in_range(release, "6.12", "6.12") is inside


def test_range_with_point_releases():
    assert packages.in_range("6.1.170", "6.1.150", "6.1")
    assert not packages.in_range("6.1.100", "6.1.150", "6.1")
    assert packages.in_range("6.8.0-51-generic", "6.6", "6.12")


@pytest.mark.parametrize("kmin, kmax, matches, rejects", [
    ("6.12", "6.12", ["6.12.117+deb12-amd64"], ["6.1.0-56-amd64", "6.120.1", "6.13.0"]),
    ("6.1", "6.1", ["6.1.0-56-amd64"], ["6.12.117+deb12-amd64", "6.10.0"]),
    ("6.6", "6.8", ["6.6.1", "6.7.0", "6.8.12"], ["6.5.0", "6.9.0", "6.60.0"]),
])
def test_exclusive_regex_is_what_dkms_3_0_10_checks(kmin, kmax, matches, rejects):
    regex = packages.exclusive_regex(kmin, kmax)
    for release in matches:
        assert re.search(regex, release), release
    for release in rejects:
        assert not re.search(regex, release), release


def test_dkms_conf_replaces_the_wireguard_module():
    conf = packages.dkms_conf("l2wireguard", "6.12.117+l2wg.abc", "6.12", "6.12")
    assert 'PACKAGE_NAME="l2wireguard"' in conf
    assert 'BUILT_MODULE_NAME[0]="wireguard"' in conf
    assert 'DEST_MODULE_LOCATION[0]="/updates/dkms"' in conf
    assert "CONFIG_WIREGUARD=m modules" in conf
    # MAX is the line's last release, not "6.12": newer DKMS compares whole releases
    # (exclusive_bounds; the test below runs its comparison).
    assert 'BUILD_EXCLUSIVE_KERNEL_MIN="6.12"' in conf and \
        'BUILD_EXCLUSIVE_KERNEL_MAX="6.12.9999"' in conf
    # dkms.conf is sourced by bash: it must parse and give the values back.
    out = subprocess.run(["bash", "-c", conf + '\necho "$PACKAGE_VERSION|$BUILD_EXCLUSIVE_KERNEL"'],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == r"6.12.117+l2wg.abc|^6\.(12)\."


#: DKMS 3.2.2's (sid's) VER() and the two BUILD_EXCLUSIVE_KERNEL_MIN/MAX tests it
#: makes, verbatim; exit 0 when the release is inside.
DKMS_3_2_EXCLUSIVE = r"""
VER()
{
    echo "$1" | sed -e 's:\([^0-9]\)\([0-9]\):\1 \2:g' \
        -e 's:\([0-9]\)\([^0-9]\):\1 \2:g' \
        -e 's:\(.*\): \1 :' \
        -e 's: \([0-9]\) : 00\1 :g' \
        -e 's: \([0-9][0-9]\) : 0\1 :g' \
        -e 's: ::g'
}
set -- "$1"
[[ $BUILD_EXCLUSIVE_KERNEL_MIN && "$(VER "$1")" < "$(VER "$BUILD_EXCLUSIVE_KERNEL_MIN")" ]] && exit 1
[[ $BUILD_EXCLUSIVE_KERNEL_MAX && "$(VER "$1")" > "$(VER "$BUILD_EXCLUSIVE_KERNEL_MAX")" ]] && exit 1
[[ ! $1 =~ $BUILD_EXCLUSIVE_KERNEL ]] && exit 1
exit 0
"""


@pytest.mark.parametrize("kmin, kmax, inside, outside", [
    ("7.2", "7.2", ["7.2.13+deb14-amd64", "7.2.0", "7.2.999-rt"], ["7.3.4+deb13-amd64", "7.1.9"]),
    ("6.12", "6.12", ["6.12.117+deb12-amd64"], ["6.13.0", "6.11.9", "6.1.0-56-amd64"]),
    ("6.1", "6.1", ["6.1.0-56-amd64"], ["6.12.117+deb12-amd64", "6.2.0"]),
    ("6.6", "6.8", ["6.6.1", "6.8.12-amd64"], ["6.9.0", "6.5.13"]),
])
def test_newer_dkms_builds_for_every_release_of_the_lines(tmp_path, kmin, kmax, inside, outside):
    conf = packages.dkms_conf("l2wireguard", "1+l2wg", kmin, kmax)
    for release in inside + outside:
        done = subprocess.run(["bash", "-c", conf + DKMS_3_2_EXCLUSIVE, "dkms", release],
                              env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"})
        assert (done.returncode == 0) is (release in inside), release


def test_version_follows_kernel_and_series():
    assert packages.package_version("6.1.192", "0123456789abcdef") == "6.1.192+l2wg.0123456789"


def test_supported_range_comes_from_kernels_toml():
    spec = SourceSpec(type="debian", package="linux-source-6.1")
    assert packages.supported_range(Kernel("6.1", spec, version="6.1")) == ("6.1", "6.1")
    ranged = Kernel("6.1", spec, version="6.1", min_version="6.1.150", max_version="6.2")
    assert packages.supported_range(ranged) == ("6.1.150", "6.2")


def fake_tree(root: Path) -> Path:
    driver = root / packages.DRIVER_DIR
    (driver / "selftest").mkdir(parents=True)
    (driver / "Makefile").write_text("obj-m := wireguard.o\n")
    (driver / "device.c").write_text("/* device */\n")
    (driver / "device.o").write_text("object")
    (driver / "selftest" / "allowedips.c").write_text("/* test */\n")
    return root


def test_dkms_source_tree_and_deb(tmp_path):
    src = packages.make_dkms_source(fake_tree(tmp_path / "tree"), tmp_path / "out",
                                    "6.12.117+l2wg.abc", "6.12", "6.12")
    assert src.path.name == "l2wireguard-6.12.117+l2wg.abc"
    assert (src.path / "selftest" / "allowedips.c").exists()
    assert not (src.path / "device.o").exists()
    deb = packages.build_deb(src, tmp_path / "deb", tmp_path / "deb.log")
    info = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends"],
                          capture_output=True, text=True, check=True).stdout
    assert "Package: l2wireguard-dkms" in info and "Version: 6.12.117+l2wg.abc" in info
    assert "dkms" in info
    files = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                           check=True).stdout
    assert "./usr/src/l2wireguard-6.12.117+l2wg.abc/dkms.conf" in files
    assert "./usr/src/l2wireguard-6.12.117+l2wg.abc/device.c" in files
    # dkms install replaces the kernel's own wireguard.ko of the same MODULE_VERSION.
    assert "./usr/share/dkms/modules_to_force_install/l2wireguard" in files
    unpacked = tmp_path / "unpacked"
    subprocess.run(["dpkg-deb", "-x", deb, unpacked], check=True)
    assert (unpacked / "usr/share/dkms/modules_to_force_install/l2wireguard").read_text() == \
        "l2wireguard_version-override\n"


def test_the_deb_of_this_version_is_installed_not_an_older_one(tmp_path):
    # An older series' package whose name sorts after the new one's was installed
    # in the chroot instead of the new one (6.1: ...a48d1dce80 after ...2ea073509a).
    out = tmp_path / "deb"
    old = packages.make_dkms_source(fake_tree(tmp_path / "tree"), tmp_path / "o1",
                                    "6.1.192+l2wg.a48d1dce80", "6.1", "6.1")
    new = packages.make_dkms_source(tmp_path / "tree", tmp_path / "o2",
                                    "6.1.192+l2wg.2ea073509a", "6.1", "6.1")
    assert packages.build_deb(old, out, tmp_path / "deb.log").name == \
        "l2wireguard-dkms_6.1.192+l2wg.a48d1dce80_all.deb"
    deb = packages.build_deb(new, out, tmp_path / "deb.log")
    assert deb.name == "l2wireguard-dkms_6.1.192+l2wg.2ea073509a_all.deb"
    version = subprocess.run(["dpkg-deb", "-f", deb, "Version"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version == "6.1.192+l2wg.2ea073509a"
    assert sorted(p.name for p in out.iterdir() if "a48d1dce80" in p.name) == []


def test_kernel_outside_range_is_refused_before_building(tmp_path):
    from l2wg.kernels import DkmsHeaders
    from l2wg.progress import silent
    from l2wg.workspace import Workspace

    src = packages.make_dkms_source(fake_tree(tmp_path / "tree"), tmp_path / "out",
                                    "6.12.117+l2wg.abc", "6.12", "6.12")
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(L2wgError, match="6.1.0-56-amd64 is outside the package's supported "
                                        "range 6.12 to 6.12"):
        packages.dkms_build(src, tmp_path / "l2wireguard-dkms.deb",
                            DkmsHeaders("linux-headers-6.1.0-56-amd64"), DebianArchive(), ws,
                            tmp_path / "dkms",
                            tmp_path / "log", silent())
    assert not (tmp_path / "dkms").exists() and not ws.chroots.exists()


def test_the_chroot_is_the_headers_suite_with_dkms():
    from l2wg.kernels import DkmsHeaders

    spec = packages.chroot_spec(DkmsHeaders("linux-headers-7.3.4+deb13-amd64", "trixie-backports"),
                                DebianArchive())
    assert spec.suite.name == "trixie-backports" and spec.suite.base == "trixie"
    assert "dkms" in spec.packages
    assert packages.chroot_spec(DkmsHeaders("linux-headers-6.1.0-56-amd64"),
                                DebianArchive()).suite.name == \
        "bookworm"


def test_why_the_postinst_built_nothing_is_dkms_own_line():
    output = ("debconf: delaying package configuration, since apt-utils is not installed\n"
              "Setting up l2wireguard-dkms (7.2.13+stock) ...\n"
              "Building initial module l2wireguard/7.2.13+stock for 7.2.13+deb14-amd64\n"
              "for module l2wireguard/7.2.13+stock includes a BUILD_EXCLUSIVE directive\n"
              "which does not match this kernel/arch/config.\n")
    assert packages._postinst_note(output, "l2wireguard-dkms") == \
        "for module l2wireguard/7.2.13+stock includes a BUILD_EXCLUSIVE directive"
    assert packages._postinst_note("Setting up l2wireguard-dkms (1) ...\nDone.\n",
                                   "l2wireguard-dkms") == "its postinst gave no reason"


def test_headers_name_is_checked():
    with pytest.raises(L2wgError, match="not a linux-headers package"):
        packages.headers_release("linux-image-6.1.0-56-amd64")


# Integration: real packages, booted ---------------------------------------------

def passed_suite(outcome) -> None:
    from l2wg.ktap import Status

    suite = outcome.suite
    assert suite is not None, outcome.errors
    failed = {c.name: c.reason for c in suite.checks if c.status is Status.FAIL}
    assert not failed and not suite.errors, (failed, suite.errors)


#: What the deb-pkg image boots with: the in-kernel selftests, and frames over a tunnel.
DEB_CHECKS = ["selftests", "ping", "frames"]


@pytest.mark.integration
@pytest.mark.parametrize("name", BUILT_KERNELS)
def test_deb_pkg_kernel_boots_and_passes_the_checks(project, real_ws, name, guest_programs):
    from l2wg import boot
    from l2wg.build import BuildOptions
    from l2wg.progress import silent

    kernel = project.matrix().get(name)
    made = packages.deb(kernel, project, real_ws, silent(), BuildOptions())
    assert made.release.endswith("-l2wg") and made.release.startswith(kernel.version)
    assert made.image.name.startswith(f"linux-image-{made.release}_")
    assert set(made.image.parent.glob("*.deb")) <= set(made.debs)   # older packages replaced
    assert (made.boot_artifacts / "bzImage").is_file()
    # bindeb-pkg packages the kernel l2wg build made: it neither relinks nor renumbers it.
    built = real_ws.artifacts(name)
    assert (made.boot_artifacts / "bzImage").read_bytes() == (built / "bzImage").read_bytes()
    assert "#1 " in (made.boot_artifacts / "bzImage").read_bytes().decode("latin-1")
    # The image is the very bzImage test_matrix ran the whole suite on: booting
    # the package's copy needs to show that it boots and carries l2wireguard.
    outcome = boot.boot(real_ws, made.boot_artifacts, checks=DEB_CHECKS, progress=silent(),
                        programs=guest_programs)
    passed_suite(outcome)
    assert sorted(c.name for c in outcome.suite.checks) == sorted(DEB_CHECKS)


@pytest.mark.integration
@pytest.mark.parametrize("name", BUILT_KERNELS)
def test_dkms_module_on_debians_own_kernel_passes_the_checks(project, real_ws, name,
                                                             guest_programs):
    from l2wg import boot
    from l2wg.progress import silent

    kernel = project.matrix().get(name)
    host = host_state()
    made = packages.dkms(kernel, project, real_ws, silent())
    assert made.deb.name.startswith("l2wireguard-dkms_")
    assert [p.headers for p in made.proofs] == list(kernel.dkms_headers)
    for proof in made.proofs:
        assert proof.module.name.startswith("wireguard.ko")
        assert proof.release in str(proof.module)
        # Built by the package's postinst in a chroot of the headers' suite.
        assert proof.chroot.startswith(f"{proof.headers.suite}-")
        assert proof.vermagic.startswith(f"{proof.release} ")
        # Debian's kernel is SMP: its artifacts ask for the one vCPU TCG runs it safely on.
        assert boot.Artifacts.load(proof.boot_artifacts).cpus() == \
            packages.DISTRIBUTION_GUEST_CPUS
        passed_suite(boot.boot(real_ws, proof.boot_artifacts, progress=silent(),
                               programs=guest_programs))
    assert host_state() == host          # nothing installed on the host, nothing mounted



@pytest.mark.integration
@pytest.mark.builds("7.3")
def test_real_pair_7_3_and_debians_7_3_with_the_dkms_module(project, real_ws, guest_programs):
    # The network engineer's case: Debian's own 7.3 kernel, with l2wireguard
    # from the DKMS package, meets a 7.3 l2wg built.  Both have a NIC; this
    # pair takes the other underlay, PPP on a serial line, so that it is
    # proven too (the 7.3 and 6.1 pair of test_interop meets over virtio-net).
    from l2wg import build, interop
    from l2wg.ktap import Status
    from l2wg.progress import silent

    kernel = project.matrix().get("7.3")
    build.build(kernel, project, real_ws, build.BuildOptions(), silent())
    made = packages.dkms(kernel, project, real_ws, silent())   # reused after the test above
    assert made.proofs and made.proofs[0].boot_artifacts is not None
    pair = interop.find_pair(real_ws, project.matrix(), "7.3", "dkms:7.3")
    assert pair[1].artifacts.guest_cpus == packages.DISTRIBUTION_GUEST_CPUS
    result = interop.interop(real_ws, pair, underlay="ppp-serial", progress=silent(),
                             programs=guest_programs)
    assert result.ok, interop.table(result)
    for suite in result.suites:
        statuses = {c.name: c.status for c in suite.checks}
        # PPP is no Ethernet: no LAN port to redirect from
        assert statuses.pop("redirect") is Status.SKIP
        assert statuses.pop("xdp-redirect") is Status.SKIP
        assert statuses.pop("burst") is Status.SKIP
        # neither guest speaks a newer wire format (dkms:K+future-format does)
        assert statuses.pop("future-format") is Status.SKIP
        assert set(statuses.values()) == {Status.PASS}, statuses
        assert {"topology", "ping", "arp", "frames", "vlan", "dhcp", "pppoe"} <= set(statuses)

@pytest.mark.integration
@pytest.mark.builds("7.3")
def test_a_peer_of_a_newer_wire_format_is_never_misparsed(project, real_ws, guest_programs):
    # Issue 16's wire-format evolution: Debian's 7.3 with the series' module
    # meets the same with ci/test-patches/future-format.patch in its module (a
    # flag in the reserved byte): the older peer must drop and count every
    # frame of the newer format, and the newer one still take today's.
    from l2wg import interop, testpatch
    from l2wg.ktap import Status
    from l2wg.progress import silent

    kernel = project.matrix().get("7.3")
    packages.dkms(kernel, project, real_ws, silent(), reuse=True)
    pair = interop.find_pair(real_ws, project.matrix(), "dkms:7.3", "dkms:7.3+future-format")
    newer = pair[1].artifacts
    assert newer.directory.parent == testpatch.test_dir(real_ws, "7.3", testpatch.find(
        "future-format")) and pair[1].test_patch == "future-format"
    assert (newer.directory / "modules" / "wireguard.ko").read_bytes() != \
        (pair[0].artifacts.directory / "modules" / "wireguard.ko").read_bytes()
    result = interop.interop(real_ws, pair, progress=silent(), programs=guest_programs)
    assert result.ok, interop.table(result)
    older, newer_suite = result.suites
    assert [c.name for c in older.checks] == ["topology", "future-format"]
    for suite, asserted in ((older, 3), (newer_suite, 1)):
        check = {c.name: c for c in suite.checks}["future-format"]
        assert check.status is Status.PASS
        statuses = [t.status for t in check.subtests]
        # the handshake on both sides, then what each side can see for itself
        assert statuses.count(Status.PASS) == 1 + asserted, check.subtests


@pytest.mark.integration
@pytest.mark.builds("7.3")
def test_the_future_format_check_fails_on_a_peer_that_ignores_the_reserved_byte(
        project, real_ws, guest_programs):
    # The check's positive control: an older peer whose receiver does not
    # look at the reserved byte (ci/test-patches/reserved-ignored.patch) takes
    # the newer format's frames as its own, and each of the older side's
    # three assertions must say so.
    from l2wg import interop
    from l2wg.ktap import Status
    from l2wg.progress import silent

    packages.dkms(project.matrix().get("7.3"), project, real_ws, silent(), reuse=True)
    pair = interop.find_pair(real_ws, project.matrix(), "dkms:7.3+reserved-ignored",
                             "dkms:7.3+future-format")
    result = interop.interop(real_ws, pair, progress=silent(), programs=guest_programs)
    older, newer = ({c.name: c for c in s.checks}["future-format"] for s in result.suites)
    assert not result.ok and older.status is Status.FAIL and newer.status is Status.PASS
    assert {s.name for s in older.subtests if s.status is Status.FAIL} == {
        "the older peer drops each frame of the newer format and counts it in rx_frame_errors",
        "no frame of the newer format reaches the older peer's LAN",
        "the older peer learns no MAC address from the newer format"}


def host_state() -> dict:
    """What the DKMS proof must leave as it was on the host."""
    import hashlib

    return {"dpkg": hashlib.sha256(Path("/var/lib/dpkg/status").read_bytes()).hexdigest(),
            "modules": sorted(p.name for p in Path("/lib/modules").glob("*")),
            "mounts": Path("/proc/self/mounts").read_text()}


def test_packages_are_listed_in_the_build_metadata(tmp_path):
    from l2wg import store

    store.write_json(tmp_path / "metadata.json", {"kernel": "6.12"})
    packages.record_in_metadata(tmp_path, "deb", [tmp_path / "linux-image.deb"])
    packages.record_in_metadata(tmp_path, "dkms", [tmp_path / "l2wireguard-dkms.deb"])
    meta = store.read_json(tmp_path / "metadata.json")
    assert meta["packages"] == {"deb": [str(tmp_path / "linux-image.deb")],
                                "dkms": [str(tmp_path / "l2wireguard-dkms.deb")]}
    assert meta["kernel"] == "6.12"
    packages.record_in_metadata(tmp_path / "none", "deb", [])   # no build: nothing to do


def fake_dist_kernel(root: Path, config: str, modules_dep: str) -> distkernel.DistKernel:
    release = "9.9.1+deb99-amd64"
    (root / "boot").mkdir(parents=True)
    (root / "boot" / f"config-{release}").write_text(config)
    modules = root / "lib" / "modules" / release
    modules.mkdir(parents=True)
    (modules / "modules.dep").write_text(modules_dep)
    return distkernel.DistKernel(release, f"linux-image-{release}", "9.9.1-1", root)


def test_check_options_become_the_modules_the_kbuild_lines_name(tmp_path):
    tree = tmp_path / "tree"
    (tree / "drivers/net/ppp").mkdir(parents=True)
    (tree / "drivers/net/ppp/Makefile").write_text(
        "obj-$(CONFIG_PPP) += ppp_generic.o\nobj-$(CONFIG_PPPOE) += pppox.o \\\n\tpppoe.o\n")
    (tree / "net/bridge").mkdir(parents=True)
    (tree / "net/bridge/Makefile").write_text("obj-$(CONFIG_BRIDGE) += bridge.o\nbridge-y := br.o\n")
    (tree / "net/Makefile").write_text("obj-$(CONFIG_BRIDGE) += bridge/\n")
    dist = fake_dist_kernel(
        tmp_path / "dist",
        "CONFIG_PPP=m\nCONFIG_PPPOE=m\nCONFIG_BRIDGE=m\nCONFIG_IPV6=y\n# CONFIG_DUMMY is not set\n",
        "kernel/drivers/net/ppp/ppp_generic.ko.xz:\n"
        "kernel/drivers/net/ppp/pppox.ko.xz: kernel/drivers/net/ppp/ppp_generic.ko.xz\n"
        "kernel/drivers/net/ppp/pppoe.ko.xz: kernel/drivers/net/ppp/pppox.ko.xz\n"
        "kernel/net/bridge/bridge.ko.xz:\n")
    wanted = ["CONFIG_BRIDGE", "CONFIG_PPPOE", "CONFIG_IPV6", "CONFIG_DUMMY", "CONFIG_BRIDGE"]
    assert distkernel.modules_for_configs(dist, tree, wanted) == ["bridge", "pppox", "pppoe"]


def test_a_module_option_no_kbuild_line_names_is_an_error(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "Makefile").write_text("obj-$(CONFIG_OTHER) += other.o\n")
    dist = fake_dist_kernel(tmp_path / "dist", "CONFIG_VETH=m\n", "kernel/other.ko.xz:\n")
    with pytest.raises(L2wgError, match=r"CONFIG_VETH=m, but no obj-\$\(CONFIG_VETH\) line"):
        distkernel.modules_for_configs(dist, tree, ["CONFIG_VETH"])


# --- what the guest of Debian's kernel loads ------------------------------------------

def test_the_guest_needs_what_the_interop_checks_and_underlays_need_too():
    from l2wg import checks, interop

    needs = packages.guest_configs()
    assert len(needs) == len(set(needs))
    for check in [*checks.select(None), *checks.discover(interop.INTEROP_DIR).values()]:
        assert set(check.configs) <= set(needs), check.name
    for options in interop.UNDERLAY_CONFIG.values():
        assert set(options) <= set(needs)
    # what l2wg interop 7.3 dkms:7.3 needs that no default check asks for
    assert {"CONFIG_VIRTIO_NET", "CONFIG_VIRTIO_PCI", "CONFIG_SERIAL_8250"} <= set(needs)


def test_debians_guest_loads_the_modules_of_its_checks_and_of_both_underlays(tmp_path):
    from l2wg import boot, interop, store

    from debian_kernel import DKMS_MODULE, MODULAR, RELEASE, dkms_guest

    target = dkms_guest(tmp_path)
    meta = store.read_json(target / "metadata.json")
    modules = meta["modules"]
    assert len(modules) == len(set(modules))
    # every =m option's module, after what it depends on (modules.dep), in insmod order
    for _, module, deps in MODULAR.values():
        assert f"{module}.ko" in modules, module
        assert all(modules.index(f"{d}.ko") < modules.index(f"{module}.ko") for d in deps)
    assert (target / "modules" / "wireguard.ko").read_bytes() == DKMS_MODULE
    assert (target / "modules" / "virtio_net.ko").read_bytes() == \
        b"stock kernel/drivers/net/virtio_net.ko.xz"           # decompressed
    assert meta["loaded_options"] == sorted(MODULAR)
    assert (meta["version"], meta["guest_cpus"]) == (RELEASE, 1)
    artifacts = boot.Artifacts.load(target)
    assert artifacts.modules[-1].name in {f"{m}.ko" for _, m, _ in MODULAR.values()}
    assert {"CONFIG_VIRTIO_NET", "CONFIG_PPP_ASYNC", "CONFIG_PCI"} <= artifacts.options()
    assert "CONFIG_WIREGUARD_DEBUG" not in artifacts.options()
    for underlay in interop.UNDERLAYS:
        assert interop.missing_config(artifacts, underlay) == [], underlay


def test_a_module_option_counts_only_when_its_module_is_loaded(tmp_path):
    from l2wg import boot, store

    from debian_kernel import dkms_guest

    artifacts = boot.Artifacts.load(dkms_guest(tmp_path))
    meta = store.read_json(artifacts.directory / "metadata.json")
    del meta["loaded_options"]             # as laid out before loaded_options was written
    store.write_json(artifacts.directory / "metadata.json", meta)
    older = boot.Artifacts.load(artifacts.directory)
    assert "CONFIG_VIRTIO_NET" not in older.options()
    assert "CONFIG_PCI" in older.options() and "CONFIG_VIRTIO_NET" in artifacts.options()
