"""l2wg interop: the pair's QEMU command lines, each guest's run.conf, the
ending of the pair, the results side by side; and, with built kernels, a real
pair (integration)."""

import json
import shlex
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from l2wg import boot, build, cli, interop, pipeline, qemu, report
from l2wg.errors import BadInput, L2wgError
from l2wg.ktap import Status
from l2wg.progress import silent
from l2wg.workspace import Workspace

KEYS = {"a": interop.Keypair("aPriv+/=", "aPub+/="), "b": interop.Keypair("bPriv+/=", "bPub+/=")}
VIRTIO = ("CONFIG_PCI=y", "CONFIG_VIRTIO_PCI=y", "CONFIG_VIRTIO_NET=y")
PPP = ("CONFIG_PPP=y", "CONFIG_PPP_ASYNC=y", "CONFIG_SERIAL_8250=y")


def built(tmp_path: Path, name: str, *config: str) -> boot.Artifacts:
    """A fake build: bzImage, metadata.json and a config with *config* lines."""
    directory = tmp_path / name
    directory.mkdir(parents=True)
    (directory / "bzImage").write_bytes(b"kernel")
    (directory / "metadata.json").write_text(json.dumps({"kernel": name}))
    (directory / "config").write_text("\n".join(config) + "\n")
    return boot.Artifacts.load(directory)


def guests(tmp_path, config_a=VIRTIO + PPP, config_b=VIRTIO + PPP):
    return (interop.Guest("a", "7.3", built(tmp_path, "7.3", *config_a)),
            interop.Guest("b", "6.1", built(tmp_path, "6.1", *config_b)))


def arg_after(argv, option, nth=0):
    return [argv[i + 1] for i, word in enumerate(argv) if word == option][nth]


# --- QEMU command lines -----------------------------------------------------------

def test_virtio_net_pair_crosses_its_udp_ports(tmp_path):
    link = interop.Link("virtio-net", (40001, 40002))
    a, b = guests(tmp_path)
    argv_a = qemu.command(interop.machine(a, tmp_path / "ia.gz", link, "tcg"))
    argv_b = qemu.command(interop.machine(b, tmp_path / "ib.gz", link, "tcg"))
    assert arg_after(argv_a, "-netdev") == (
        "dgram,id=u0,local.type=inet,local.host=127.0.0.1,local.port=40001,"
        "remote.type=inet,remote.host=127.0.0.1,remote.port=40002")
    assert "local.port=40002" in arg_after(argv_b, "-netdev")
    assert "remote.port=40001" in arg_after(argv_b, "-netdev")
    assert arg_after(argv_a, "-device") == "virtio-net-pci,netdev=u0,mac=52:54:00:4c:32:01"
    assert arg_after(argv_b, "-device") == "virtio-net-pci,netdev=u0,mac=52:54:00:4c:32:02"
    for argv, kernel, initrd in ((argv_a, "7.3", "ia.gz"), (argv_b, "6.1", "ib.gz")):
        assert arg_after(argv, "-smp") == "1" and arg_after(argv, "-accel") == "tcg"
        assert arg_after(argv, "-kernel") == str(tmp_path / kernel / "bzImage")
        assert arg_after(argv, "-initrd") == str(tmp_path / initrd)
        assert arg_after(argv, "-nic") == "none"       # no default e1000 and its iPXE ROM
        assert "-serial" not in argv                   # the console stays -nographic's


def test_cpus_gives_each_guest_that_many_and_the_cli_takes_it(tmp_path):
    link = interop.Link("virtio-net", (40001, 40002))
    a, _ = guests(tmp_path)
    assert arg_after(qemu.command(interop.machine(a, tmp_path / "ia.gz", link, "tcg", 4)),
                     "-smp") == "4"
    args = cli.build_parser().parse_args(["interop", "dkms:7.3", "dkms:7.3", "--cpus", "4"])
    assert args.cpus == 4
    assert cli.build_parser().parse_args(["interop", "7.3", "6.1"]).cpus is None
    assert cli.build_parser().parse_args(["interop", "7.3", "6.1", "--summary", "s.json"]
                                         ).summary == Path("s.json")


def test_each_guest_gets_a_lan_port_of_two_nics_joined_to_each_other(tmp_path):
    link = interop.Link("virtio-net", (40001, 40002), lan_ports=(40011, 40012, 40021, 40022))
    for role, (port, host) in (("a", (40011, 40012)), ("b", (40021, 40022))):
        argv = list(interop.lan_args(link, role))
        netdevs = [arg_after(argv, "-netdev", n) for n in (0, 1)]
        assert f"id=lan0,local.type=inet,local.host=127.0.0.1,local.port={port}," in netdevs[0]
        assert netdevs[0].endswith(f"remote.port={host}")
        assert f"id=lanh,local.type=inet,local.host=127.0.0.1,local.port={host}," in netdevs[1]
        assert netdevs[1].endswith(f"remote.port={port}")
        assert [arg_after(argv, "-device", n) for n in (0, 1)] == [
            f"virtio-net-pci,netdev=lan0,mac={interop.LAN_MAC[role]}",
            f"virtio-net-pci,netdev=lanh,mac={interop.LAN_HOST_MAC[role]}"]
    a, _ = guests(tmp_path)
    argv_a = qemu.command(interop.machine(a, tmp_path / "ia.gz", link, "tcg"))
    assert argv_a.count("virtio-net-pci,netdev=u0,mac=52:54:00:4c:32:01") == 1
    assert sum(word.startswith("virtio-net-pci,") for word in argv_a) == 3
    new = interop.new_link("virtio-net")
    assert len(set(new.ports + new.lan_ports)) == 6


def test_no_lan_port_without_a_nic_and_run_conf_says_which_macs(tmp_path):
    assert interop.lan_args(interop.Link("ppp-serial", (40003,)), "a") == ()
    assert interop.new_link("ppp-serial").lan_ports == ()
    names = ["L2WG_LAN_MAC", "L2WG_LAN_HOST_MAC"]
    selected = interop.select(["ping"])
    nic = interop.Link("virtio-net", (1, 2), lan_ports=(3, 4, 5, 6))
    assert sourced(interop.run_conf("b", nic, selected, KEYS), tmp_path, names) == {
        "L2WG_LAN_MAC": "52:54:00:4c:33:02", "L2WG_LAN_HOST_MAC": "52:54:00:4c:34:02"}
    ppp = interop.Link("ppp-serial", (40003,))
    assert sourced(interop.run_conf("b", ppp, selected, KEYS), tmp_path, names) == {
        "L2WG_LAN_MAC": "", "L2WG_LAN_HOST_MAC": ""}


def test_ppp_serial_pair_listens_on_a_and_connects_from_b(tmp_path):
    link = interop.Link("ppp-serial", (40003,))
    argv_a = list(interop.underlay_args(link, "a"))
    argv_b = list(interop.underlay_args(link, "b"))
    assert arg_after(argv_a, "-chardev") == \
        "socket,id=u0,host=127.0.0.1,port=40003,server=on,wait=off"
    assert arg_after(argv_b, "-chardev") == "socket,id=u0,host=127.0.0.1,port=40003,reconnect=1"
    for argv in (argv_a, argv_b):
        # ttyS0 stays the console (an explicit -serial drops -nographic's own), ttyS1 the link
        assert [arg_after(argv, "-serial", n) for n in (0, 1)] == ["mon:stdio", "chardev:u0"]


def test_the_underlay_comes_last_and_plain_machines_are_unchanged(tmp_path):
    extra = ("-nic", "none", "-device", "x")
    argv = qemu.command(qemu.Machine(Path("k"), Path("i"), extra_args=extra))
    assert tuple(argv[-4:]) == extra
    assert qemu.command(qemu.Machine(Path("k"), Path("i")))[-2] == "-append"


def test_free_ports_are_distinct_and_bindable():
    import socket

    ports = interop.free_ports(2, socket.SOCK_DGRAM)
    assert len(set(ports)) == 2 and all(1024 <= p < 65536 for p in ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", port))
    assert len(interop.new_link("ppp-serial").ports) == 1
    assert len(interop.new_link("virtio-net").ports) == 2


# --- the underlay a pair of kernels can drive ------------------------------------------

def test_auto_prefers_the_nic_and_falls_back_to_ppp_on_the_serial_port(tmp_path):
    assert interop.choose_underlay(guests(tmp_path / "1")) == "virtio-net"
    assert interop.choose_underlay(guests(tmp_path / "2", config_b=PPP)) == "ppp-serial"
    assert interop.choose_underlay(guests(tmp_path / "3"), "ppp-serial") == "ppp-serial"


def test_a_kernel_built_here_and_debians_with_the_dkms_module_meet_over_ppp(tmp_path):
    from debian_kernel import dkms_guest

    own = interop.Guest("a", "7.3", built(tmp_path, "7.3", *PPP))      # a build with no NIC
    debian = interop.Guest("b", "dkms:7.3", boot.Artifacts.load(dkms_guest(tmp_path / "d")))
    other = interop.Guest("a", "dkms:7.2", boot.Artifacts.load(dkms_guest(tmp_path / "e")))
    assert interop.choose_underlay((own, debian)) == "ppp-serial"       # PPP_ASYNC=m, loaded
    assert interop.choose_underlay((other, debian)) == "virtio-net"     # VIRTIO_NET=m, loaded
    with pytest.raises(L2wgError, match=r"^underlay virtio-net: 7.3 lacks CONFIG_PCI, "
                                        r"CONFIG_VIRTIO_PCI, CONFIG_VIRTIO_NET "
                                        r"\(remake: l2wg build 7.3\)$"):
        interop.choose_underlay((own, debian), "virtio-net")


def test_a_module_the_guest_does_not_load_does_not_count(tmp_path):
    modular = ("CONFIG_PCI=y", "CONFIG_VIRTIO_PCI=y", "CONFIG_VIRTIO_NET=m",
               "CONFIG_PPP=m", "CONFIG_PPP_ASYNC=m", "CONFIG_SERIAL_8250=y")
    debian = interop.Guest("b", "dkms:7.3", built(tmp_path, "d", *modular))
    assert interop.missing_config(debian.artifacts, "virtio-net") == ["CONFIG_VIRTIO_NET"]
    assert interop.missing_config(debian.artifacts, "ppp-serial") == ["CONFIG_PPP",
                                                                      "CONFIG_PPP_ASYNC"]
    with pytest.raises(L2wgError, match=r"dkms:7.3 lacks CONFIG_PPP, CONFIG_PPP_ASYNC "
                                        r"\(remake: l2wg dkms 7.3\)"):
        interop.choose_underlay(guests(tmp_path / "x")[:1] + (debian,), "ppp-serial")


def test_an_underlay_a_kernel_cannot_drive_names_the_missing_options(tmp_path):
    pair = guests(tmp_path, config_b=PPP)
    with pytest.raises(L2wgError, match="6.1 lacks CONFIG_PCI, CONFIG_VIRTIO_PCI, "
                                        "CONFIG_VIRTIO_NET .*l2wg build"):
        interop.choose_underlay(pair, "virtio-net")
    with pytest.raises(L2wgError, match="no underlay both kernels can drive"):
        interop.choose_underlay(guests(tmp_path / "x", config_a=("CONFIG_PCI=y",)))
    with pytest.raises(BadInput, match="unknown underlay"):
        interop.choose_underlay(pair, "tap")


# --- which kernels --------------------------------------------------------------------

def test_kernels_must_be_matrix_entries_with_a_default_build(project, tmp_path):
    ws = Workspace(tmp_path / "ws")
    matrix = project.matrix()
    with pytest.raises(BadInput, match="unknown kernel '9.9'"):
        interop.find_guest("a", "9.9", matrix, ws)
    with pytest.raises(L2wgError, match=r"kernel 6.1 is not built: .* \(run: l2wg build 6.1\)"):
        interop.find_guest("a", "6.1", matrix, ws)
    with pytest.raises(BadInput, match="unknown kernel"):     # b's name before a's build
        interop.find_pair(ws, matrix, "6.1", "9.9")
    built(ws.out, "6.1")
    found = interop.find_guest("b", "6.1", matrix, ws)
    assert (found.role, found.kernel, found.label) == ("b", "6.1", "b:6.1")
    assert found.artifacts.bzimage == ws.out / "6.1" / "bzImage"


def test_a_dkms_guest_is_debians_kernel_as_the_last_l2wg_dkms_laid_it_out(project, tmp_path):
    from debian_kernel import dkms_guest, record_dkms

    ws = Workspace(tmp_path / "ws")
    matrix = project.matrix()
    with pytest.raises(L2wgError, match=r"^dkms:7.3: no DKMS build of 7.3 "
                                        r"\(run: l2wg dkms 7.3\)$"):
        interop.find_guest("b", "dkms:7.3", matrix, ws)
    with pytest.raises(BadInput, match="unknown kernel '9.9'"):
        interop.find_guest("b", "dkms:9.9", matrix, ws)
    with pytest.raises(BadInput, match="dkms:6.6: kernels.toml gives 6.6 no dkms_headers"):
        interop.find_pair(ws, matrix, "7.3", "dkms:6.6")       # before 7.3's build
    kernel = matrix.get("7.3")
    record_dkms(ws, kernel, None)
    with pytest.raises(L2wgError, match=r"dkms:7.3: the last DKMS build of 7.3 was made with "
                                        r"--no-boot.*\(run: l2wg dkms 7.3\)"):
        interop.find_guest("a", "dkms:7.3", matrix, ws)
    artifacts = dkms_guest(ws.out / "7.3" / "dkms", kernel)
    record_dkms(ws, kernel, artifacts)
    found = interop.find_guest("b", "dkms:7.3", matrix, ws)
    assert (found.role, found.kernel, found.label) == ("b", "dkms:7.3", "b:dkms:7.3")
    assert found.artifacts.directory == artifacts and found.remake == "l2wg dkms 7.3"
    assert found.artifacts.guest_cpus == 1
    # the guest's overlay carries its modules, in the order its init insmods them
    names = [name for name in interop.overlay_files(found, "") if name.startswith("l2wg/modules/")]
    assert names == [f"l2wg/modules/{n:02d}-{m.name}" for n, m in
                     enumerate(found.artifacts.modules)]
    assert any(name.endswith("-virtio_net.ko") for name in names)
    assert any(name.endswith("-ppp_async.ko") for name in names)


def test_a_dkms_guest_laid_out_without_the_modules_interop_needs_is_refused(project, tmp_path):
    from debian_kernel import MODULAR, dkms_guest, record_dkms

    ws = Workspace(tmp_path / "ws")
    kernel = project.matrix().get("7.3")
    # as an older l2wg laid it out: only the default checks' modules, no loaded_options
    artifacts = dkms_guest(ws.out / "7.3" / "dkms", kernel)
    meta = json.loads((artifacts / "metadata.json").read_text())
    meta["modules"] = [m for m in meta["modules"] if m not in ("virtio_net.ko", "net_failover.ko",
                                                                 "failover.ko")]
    del meta["loaded_options"]
    (artifacts / "metadata.json").write_text(json.dumps(meta))
    record_dkms(ws, kernel, artifacts)
    with pytest.raises(L2wgError) as error:
        interop.find_guest("b", "dkms:7.3", project.matrix(), ws)
    assert f"{artifacts} loads no module for " in error.value.message
    assert "CONFIG_VIRTIO_NET" in error.value.message and "(run: l2wg dkms 7.3)" in \
        error.value.message
    assert "CONFIG_PCI" not in error.value.message          # built in: nothing to load
    assert "CONFIG_VIRTIO_NET" in MODULAR


def test_cli_refusals_are_one_line(project, tmp_path, capsys):
    common = ["--project", str(project.root), "--workspace", str(tmp_path / "ws"), "-q"]
    for args, code, text in ((["7.3", "dkms:6.6"], 2, "kernels.toml gives 6.6 no dkms_headers"),
                             (["dkms:9.9", "7.3"], 2, "unknown kernel '9.9'"),
                             (["dkms:7.3", "7.3"], 1,
                              "dkms:7.3: no DKMS build of 7.3 (run: l2wg dkms 7.3)"),
                             (["7.3", "9.9"], 2, "unknown kernel '9.9'"),
                             (["7.3"], 2, "name two kernels"),
                             (["7.3", "6.1"], 1, "kernel 7.3 is not built")):
        assert cli.main(["interop", *args, *common]) == code
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and text in err, err
    assert cli.main(["interop", "7.3", "6.1", "--check", "nope", *common[:4]]) == 2
    assert "unknown check 'nope'" in capsys.readouterr().err
    assert cli.main(["interop", "--list"]) == 0
    assert "topology" in capsys.readouterr().out


def test_the_help_names_dkms_guests(capsys):
    with pytest.raises(SystemExit):
        cli.main(["interop", "--help"])
    out = capsys.readouterr().out
    assert "dkms:K" in out and "l2wg interop 7.3 dkms:7.3" in out
    assert "not supported" not in out.lower() and "refused" not in out


def test_a_pairs_directory_has_no_colon():
    a = interop.Guest("a", "7.3", None)
    assert interop.pair_directory((a, interop.Guest("b", "dkms:7.3", None))) == "7.3-dkms-7.3"
    assert interop.pair_directory((a, interop.Guest("b", "6.1", None))) == "7.3-6.1"


# --- checks and run.conf -----------------------------------------------------------------

def test_topology_runs_first_and_only_once():
    assert [c.name for c in interop.select(None)][0] == "topology"
    assert {c.name for c in interop.select(None)} >= {"topology", "ping", "arp", "frames"}
    assert [c.name for c in interop.select(["ping", "topology"])] == ["topology", "ping"]
    with pytest.raises(BadInput, match="unknown check 'nope'"):
        interop.select(["nope"])


def test_the_throughput_benchmark_runs_only_when_named():
    assert "throughput" not in {c.name for c in interop.select(None)}
    assert [c.name for c in interop.select(["throughput"])] == ["topology", "throughput"]


def sourced(conf: str, tmp_path: Path, names: list[str]) -> dict[str, str]:
    """The variables *conf* sets, as a POSIX sh sourcing it sees them."""
    path = tmp_path / "run.conf"
    path.write_text(conf)
    script = f". {shlex.quote(str(path))}\n" + "".join(f'printf "%s\\n" "${n}"\n' for n in names)
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    return dict(zip(names, out.splitlines()))


def test_each_role_gets_its_own_private_key_and_the_other_ones_public_key(tmp_path):
    link = interop.Link("ppp-serial", (40003,), family=6)
    selected = interop.select(["ping"])
    names = ["L2WG_MODE", "L2WG_CHECKS", "L2WG_JOBS", "L2WG_CHECK_DIR", "L2WG_ISOLATE",
             "L2WG_ROLE", "L2WG_UNDERLAY", "L2WG_UNDERLAY_MAC", "L2WG_FAMILY",
             "L2WG_PEER_UNDERLAY", "L2WG_PRIVATE_KEY", "L2WG_PEER_PUBLIC_KEY", "L2WG_HOLD"]
    a = sourced(interop.run_conf("a", link, selected, KEYS, hold=500), tmp_path, names)
    b = sourced(interop.run_conf("b", link, selected, KEYS), tmp_path, names)
    assert a == {"L2WG_MODE": "interop", "L2WG_CHECKS": "topology:150 ping:60", "L2WG_JOBS": "1",
                 "L2WG_CHECK_DIR": "/l2wg/interop", "L2WG_ISOLATE": "0", "L2WG_ROLE": "a",
                 "L2WG_UNDERLAY": "ppp-serial", "L2WG_UNDERLAY_MAC": "52:54:00:4c:32:01",
                 "L2WG_FAMILY": "6", "L2WG_PEER_UNDERLAY": "192.168.0.2",
                 "L2WG_PRIVATE_KEY": "aPriv+/=", "L2WG_PEER_PUBLIC_KEY": "bPub+/=",
                 "L2WG_HOLD": "500"}
    assert (b["L2WG_ROLE"], b["L2WG_PRIVATE_KEY"], b["L2WG_PEER_PUBLIC_KEY"],
            b["L2WG_PEER_UNDERLAY"]) == ("b", "bPriv+/=", "aPub+/=", "192.168.0.1")


def test_each_guest_knows_its_own_test_patch_and_the_other_s(tmp_path):
    link = interop.Link("virtio-net", (40001, 40002))
    selected = interop.select(None, ["future-format"])
    names = ["L2WG_TEST_PATCH", "L2WG_PEER_TEST_PATCH"]
    for role, want in (("a", ["", "future-format"]), ("b", ["future-format", ""])):
        conf = interop.run_conf(role, link, selected, KEYS, test_patches={"b": "future-format"})
        assert sourced(conf, tmp_path, names) == dict(zip(names, want))
    plain = interop.run_conf("a", link, selected, KEYS)
    assert sourced(plain, tmp_path, names) == dict.fromkeys(names, "")
    assert "\nL2WG_TEST_PATCH=''\n" in plain


def test_the_overlay_carries_run_conf_the_config_and_the_interop_checks(tmp_path):
    a, _ = guests(tmp_path)
    files = interop.overlay_files(a, "L2WG_MODE=interop\n")
    assert files["l2wg/run.conf"] == b"L2WG_MODE=interop\n"
    assert b"CONFIG_PPP_ASYNC=y" in files["l2wg/kconfig"]
    assert {"l2wg/interop/lib.sh", "l2wg/interop/topology.sh", "l2wg/interop/ping.sh"} <= \
        set(files)



# --- the XDP redirect's programs -------------------------------------------------------------

def test_the_xdp_objects_redirect_to_the_ifindexes_the_check_gives_its_devices():
    from l2wg import guest

    script = (interop.INTEROP_DIR / "xdp-redirect.sh").read_text()
    given = {int(line.split("=")[1]) for line in script.splitlines()
             if line.startswith(("L2WG1_INDEX=", "VLAN_INDEX="))}
    assert given == set(guest.XDP_REDIRECT_IFINDEXES)
    assert f"OBJECTS=/{guest.XDP_GUEST_DIR}\n" in script


@pytest.mark.skipif(not (shutil.which("clang") and shutil.which("llvm-objdump-14")),
                    reason="needs clang and llvm-objdump-14 (tools/setup-env installs clang)")
def test_each_xdp_object_is_one_redirect_to_its_ifindex_and_goes_into_the_overlay(tmp_path):
    from l2wg import guest

    ws = Workspace(tmp_path / "ws")
    log = tmp_path / "interop.log"
    objects = guest.build_xdp_objects(ws, log)
    assert sorted(objects) == [f"{guest.XDP_GUEST_DIR}/redirect-to-{i}.o"
                               for i in guest.XDP_REDIRECT_IFINDEXES]
    for index in guest.XDP_REDIRECT_IFINDEXES:
        obj = objects[f"{guest.XDP_GUEST_DIR}/redirect-to-{index}.o"]
        code = subprocess.run(["llvm-objdump-14", "-d", "--section=xdp", obj], text=True,
                              capture_output=True, check=True).stdout
        # r1 = the ifindex; call 23 is bpf_redirect (include/uapi/linux/bpf.h)
        assert f"r1 = {index}" in code and "call 23" in code, code
    assert "-DREDIRECT_IFINDEX=100" in log.read_text()
    mtimes = [p.stat().st_mtime_ns for p in objects.values()]
    assert [p.stat().st_mtime_ns for p in guest.build_xdp_objects(ws, log).values()] == mtimes
    a, _ = guests(tmp_path)
    files = interop.overlay_files(a, "", objects)
    assert files[f"{guest.XDP_GUEST_DIR}/redirect-to-100.o"] == objects[
        f"{guest.XDP_GUEST_DIR}/redirect-to-100.o"].read_bytes()


def test_without_clang_there_are_no_xdp_objects_and_the_log_says_why(tmp_path, monkeypatch):
    from l2wg import guest

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    log = tmp_path / "interop.log"
    assert guest.build_xdp_objects(Workspace(tmp_path / "ws"), log) == {}
    assert "needs clang and libbpf-dev" in log.read_text()

def test_keys_come_from_the_hosts_wg(tmp_path):
    keys = interop.make_keys(tmp_path / "log")
    assert keys["a"] != keys["b"]
    for pair in keys.values():
        assert len(pair.private) == len(pair.public) == 44 and pair.public.endswith("=")
    assert "wg genkey" in (tmp_path / "log").read_text()


# --- ending the pair --------------------------------------------------------------------

def fake_boot(scripts: dict[str, list[tuple[float, str]]], stopped_at: dict[str, float]):
    """A stand-in for qemu.boot: each machine prints its (delay, line) script,
    repeating its last line (the hold's probes) until stop() says so."""
    start = time.monotonic()

    def boot_one(machine, log, *, timeout, idle_timeout, stop, on_line=None, cancel=None):
        role = machine.append
        lines = list(scripts[role])
        text = []
        for n in range(400):
            delay, line = lines[min(n, len(lines) - 1)]
            time.sleep(delay)
            text.append(line)
            if stop(line):
                stopped_at[role] = time.monotonic() - start
                break
        return qemu.Console(command="q", accel="tcg", log=log, text="\n".join(text),
                            seconds=0.0, returncode=-9, ended_by=None)
    return boot_one


def test_a_guest_that_finished_first_holds_until_the_other_has_finished(monkeypatch, tmp_path):
    stopped: dict[str, float] = {}
    scripts = {"a": [(0.01, "L2WG-BOOTED"), (0.01, qemu.DONE_MARKER), (0.02, "# probe")],
               "b": [(0.01, "L2WG-BOOTED"), (0.3, "ok 1 topology"), (0.01, qemu.DONE_MARKER),
                     (0.02, "# probe")]}
    monkeypatch.setattr(qemu, "boot", fake_boot(scripts, stopped))
    machines = {r: qemu.Machine(Path("k"), Path("i"), append=r) for r in ("a", "b")}
    consoles = interop.boot_pair(machines, tmp_path, timeout=10, idle_timeout=10)
    assert consoles["a"].finished and consoles["b"].finished
    assert stopped["a"] >= stopped["b"] >= 0.3     # a held on until b was done
    assert consoles["a"].text.count("# probe") >= 5


def test_a_guest_whose_peer_died_is_ended_too(monkeypatch, tmp_path):
    stopped: dict[str, float] = {}
    scripts = {"a": [(0.01, qemu.DONE_MARKER), (0.02, "# probe")],
               "b": [(0.05, "Kernel panic - not syncing")]}

    base = fake_boot(scripts, stopped)

    def boot_one(machine, log, **kw):
        if machine.append == "b":   # b's QEMU exits without a done marker
            time.sleep(0.1)
            return qemu.Console("q", "tcg", log, "Kernel panic", 0.1, 0, None)
        return base(machine, log, **kw)
    monkeypatch.setattr(qemu, "boot", boot_one)
    machines = {r: qemu.Machine(Path("k"), Path("i"), append=r) for r in ("a", "b")}
    consoles = interop.boot_pair(machines, tmp_path, timeout=10, idle_timeout=10)
    assert "a" in stopped and not consoles["b"].finished


def test_an_error_in_one_guests_thread_ends_the_other_qemu(monkeypatch, tmp_path):
    """Real processes for QEMU: b's console handler fails at its first line,
    and a, silent for 30 s, is ended at once instead of at its limits."""
    qemu_script = tmp_path / "fake-qemu"
    qemu_script.write_text("#!/bin/sh\necho L2WG-BOOTED\nsleep 30\n")
    qemu_script.chmod(0o755)
    monkeypatch.setattr(qemu, "QEMU", str(qemu_script))

    def broken(line: str) -> None:
        raise RuntimeError(f"b's handler failed on {line!r}")
    machines = {r: qemu.Machine(Path("k"), Path("i"), append=r) for r in ("a", "b")}
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="b's handler failed"):
        interop.boot_pair(machines, tmp_path, timeout=60, idle_timeout=60,
                          on_line={"b": broken})
    assert time.monotonic() - started < 10
    assert "exit -9" in (tmp_path / "console-a.log").read_text()


# --- results side by side ------------------------------------------------------------------

CONSOLE = """L2WG-BOOTED uptime=3.0
KTAP version 1
1..2
# l2wg: begin topology
    KTAP version 1
    1..1
    ok 1 underlay ppp-serial up
# l2wg: end topology exit=0 seconds=4.50
ok 1 topology
# l2wg: begin ping
    KTAP version 1
    1..2
    ok 1 ipv4 to the other site's host
    # $ nsx h ping -6 -c 3 fd10::1
    not ok 2 ipv6 to the other site's host
# l2wg: end ping exit=1 seconds=3.00
{ping}
L2WG-DONE uptime=12.0
"""


def suites(tmp_path):
    selected = interop.select(["ping"])
    out = []
    for role, kernel, ping in (("a", "7.3", "ok 2 ping"), ("b", "6.1", "not ok 2 ping")):
        text = CONSOLE.format(ping=ping)
        if role == "a":
            text = text.replace("    not ok 2 ipv6", "    ok 2 ipv6")
        console = qemu.Console("qemu ...", "tcg", tmp_path / f"console-{role}.log", text, 12.0,
                               -9, None, qemu.find_reports(text))
        suite = boot.suite_report(kernel, "tcg", selected, console)
        suite.guest = role
        out.append(suite)
    return out


def test_one_table_with_a_column_per_guest(tmp_path):
    a, b = suites(tmp_path)
    assert a.ok and not b.ok
    lines = report.guest_table([a, b]).splitlines()
    assert lines[0].split() == ["check", "a:7.3", "b:6.1", "detail"]
    assert lines[2].split()[:5] == ["topology", "PASS", "4.5s", "PASS", "4.5s"]
    assert lines[3].split()[:5] == ["ping", "PASS", "3.0s", "FAIL", "3.0s"]
    assert "b: $ nsx h ping -6 -c 3 fd10::1 (1 of 2 failed)" in lines[3]
    assert lines[4].startswith("a:7.3: ok: 2 passed") and lines[5].startswith("b:6.1: FAILED")


def test_results_json_and_junit_keep_each_guest_apart(tmp_path):
    a, b = suites(tmp_path)
    report.write_json([a, b], tmp_path / "results.json")
    back = report.load_json(tmp_path / "results.json")
    assert [(s.guest, s.kernel, s.label) for s in back] == [("a", "7.3", "a:7.3"),
                                                              ("b", "6.1", "b:6.1")]
    report.write_junit([a, b], tmp_path / "junit.xml")
    names = [el.get("name") for el in ET.parse(tmp_path / "junit.xml").getroot()]
    assert names == ["l2wg.a:7.3", "l2wg.b:6.1"]
    single = report.SuiteReport(kernel="6.12", accelerator="tcg", checks=[], seconds=1.0)
    assert single.label == "6.12"       # a single boot's suite is named as before


def test_a_pair_is_up_to_date_until_what_its_guests_would_see_changes(guest_image, tmp_path,
                                                                        monkeypatch):
    ws, _ = guest_image
    pair = guests(tmp_path)
    scripts = tmp_path / "interop"
    shutil.copytree(interop.INTEROP_DIR, scripts)
    monkeypatch.setattr(interop, "INTEROP_DIR", scripts)
    key = interop.checks_key(ws, pair)
    assert interop.checks_key(ws, pair) == key
    a_image = pair[0].artifacts.bzimage
    a_image.write_bytes(b"another kernel")
    assert interop.checks_key(ws, pair) != key
    a_image.write_bytes(b"kernel")
    assert interop.checks_key(ws, pair) == key
    swapped = (pair[0], interop.Guest("b", "dkms:6.1", pair[1].artifacts))
    assert interop.checks_key(ws, swapped) != key
    assert interop.checks_key(ws, pair, checks=["ping"]) != key
    assert interop.checks_key(ws, pair, underlay="ppp-serial") != key
    assert interop.checks_key(ws, pair, family=6) != key
    for name in ("lib.sh", "xdp-redirect.bpf.c", "ping.sh"):
        original = (scripts / name).read_bytes()
        (scripts / name).write_bytes(original + b"\n")
        assert interop.checks_key(ws, pair) != key, name
        (scripts / name).write_bytes(original)
    assert interop.checks_key(ws, pair) == key


def test_the_summary_records_the_pair(tmp_path):
    a, b = suites(tmp_path)
    pair = guests(tmp_path)
    result = interop.InteropResult(
        guests=pair, link=interop.Link("ppp-serial", (40003,)), run_dir=tmp_path,
        accelerator=qemu.Accelerator("tcg", "requested"), suites=[a, b],
        commands={"a": "qemu a", "b": "qemu b"}, seconds=29.3)
    interop.write_results(result)
    data = json.loads((tmp_path / "interop.json").read_text())
    assert data["kernels"] == {"a": "7.3", "b": "6.1"} and data["underlay"] == "ppp-serial"
    assert data["seconds"] == 29.3 and data["ok"] is False
    assert data["run_dir"] == str(tmp_path) and data["cpus"] == 1
    assert (tmp_path / "results.json").is_file() and (tmp_path / "junit.xml").is_file()
    assert interop.table(result).startswith("interop 7.3 <-> 6.1 over ppp-serial")


# --- a real pair -----------------------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.builds("7.3", "6.1")
def test_real_pair_7_3_and_6_1_passes_the_interop_checks_and_is_then_up_to_date(project, real_ws):
    # Built here when no earlier test has (a cold CI workspace); up to date otherwise.
    for name in ("7.3", "6.1"):
        build.build(project.matrix().get(name), project, real_ws, build.BuildOptions(), silent())
    # As `l2wg ci` runs it: the interop stage of the pair, once both builds passed.
    interop.stamp(real_ws, interop.find_pair(real_ws, project.matrix(), "7.3", "6.1")).clear()
    runs = [pipeline.KernelRun(n, [pipeline.StageResult(n, "build", "pass")])
            for n in ("7.3", "6.1")]

    def interop_stage() -> pipeline.StageResult:
        (stage,) = pipeline.run_pair(("7.3", "6.1"), runs, project, real_ws,
                                     pipeline.PipelineOptions(), silent()).stages
        return stage

    stage = interop_stage()
    assert stage.status == "pass" and not stage.up_to_date, \
        stage.detail + "\n" + report.failure_details(stage.suites)
    # checks.config gives both kernels a NIC: the pair meets over virtio-net,
    # with LAN ports, so the redirect use case (tc and XDP) runs and passes.
    run_dir = Path(stage.log).parent
    summary = json.loads((run_dir / "interop.json").read_text())
    assert stage.detail.startswith("over virtio-net: ") and summary["lan_ports"]
    assert [s.guest for s in stage.suites] == ["a", "b"]
    for suite in stage.suites:
        statuses = {c.name: c.status for c in suite.checks}
        assert {"redirect", "xdp-redirect", "burst", "vlan", "dhcp", "pppoe"} <= set(statuses)
        # neither guest speaks a newer wire format (dkms:K+future-format does)
        assert statuses.pop("future-format") is Status.SKIP
        assert set(statuses.values()) == {Status.PASS}, statuses
        assert [c.name for c in suite.checks][0] == "topology"
    for name in ("console-a.log", "console-b.log", "command-a.sh", "command-b.sh",
                 "results.json", "junit.xml", "interop.json"):
        assert (run_dir / name).is_file(), name
    # Nothing the guests would see changed: the next run reuses these results, boots nothing.
    runs_before = sorted(run_dir.parent.iterdir())
    again = interop_stage()
    assert (again.status, again.up_to_date, again.log) == ("pass", True, stage.log)
    assert again.detail == stage.detail + " (up to date)"
    assert [(s.guest, c.name, c.status) for s in again.suites for c in s.checks] == \
        [(s.guest, c.name, c.status) for s in stage.suites for c in s.checks]
    assert sorted(run_dir.parent.iterdir()) == runs_before
