"""The debug variant's positive controls: planted faults that must be seen."""

from __future__ import annotations

from l2wg import controls, qemu

KASAN_REPORT = """\
[  900.100000] ==================================================================
[  900.100001] BUG: KASAN: slab-use-after-free in lkdtm_READ_AFTER_FREE+0x1a2/0x2d0
[  900.100002] Read of size 4 at addr ffff888004a1c004 by task init/1
[  900.100003] ==================================================================
"""
UBSAN_REPORT = """\
[  901.200000] ------------[ cut here ]------------
[  901.200001] UBSAN: array-index-out-of-bounds in drivers/misc/lkdtm/bugs.c:458:16
[  901.200002] index 8 is out of range for type 'char[8]'
[  901.200003] ---[ end trace ]---
"""


def marker(name: str, kind: str) -> str:
    return f"[  899.000000] # l2wg: control {name} expects {kind}\n"


END = "[  902.000000] # l2wg: controls end\n"


def split(text: str):
    return controls.split(text, qemu.find_reports(text))


def test_planned_follows_the_kernels_sanitizers_and_needs_lkdtm(tmp_path):
    config = tmp_path / "config"
    config.write_text("CONFIG_LKDTM=y\nCONFIG_KASAN=y\nCONFIG_UBSAN_BOUNDS=y\n")
    assert controls.planned(config) == [("READ_AFTER_FREE", "KASAN"), ("ARRAY_BOUNDS", "UBSAN")]
    assert controls.run_conf_value(config) == "READ_AFTER_FREE:KASAN ARRAY_BOUNDS:UBSAN"
    config.write_text("CONFIG_LKDTM=y\nCONFIG_KASAN=y\n# CONFIG_UBSAN_BOUNDS is not set\n")
    assert controls.planned(config) == [("READ_AFTER_FREE", "KASAN")]
    config.write_text("CONFIG_KASAN=y\nCONFIG_UBSAN_BOUNDS=y\n")       # no lkdtm: no trigger
    assert controls.planned(config) == []
    assert controls.planned(tmp_path / "missing") == []


def test_the_kmemleak_control_needs_its_module_built(tmp_path):
    config = tmp_path / "config"
    config.write_text("CONFIG_LKDTM=y\nCONFIG_KASAN=y\nCONFIG_DEBUG_KMEMLEAK=y\n")
    leak = tmp_path / "kmemleak-test.ko"
    assert controls.planned(config, [leak]) == [("READ_AFTER_FREE", "KASAN"),
                                                ("KMEMLEAK", "kmemleak")]
    assert controls.planned(config, [tmp_path / "other.ko"]) == [("READ_AFTER_FREE", "KASAN")]
    config.write_text("CONFIG_DEBUG_KMEMLEAK=y\n")        # no lkdtm: the module still plants
    assert controls.run_conf_value(config, [leak]) == "KMEMLEAK:kmemleak"


KMEMLEAK_REPORT = """\
unreferenced object 0xffff888005b1c000 (size 32):
  comm "insmod", pid 412, jiffies 4295862060
  backtrace (crc 0):
    kmemleak_test_init+0x4f/0x2a0 [kmemleak_test]
"""


def test_a_leak_listed_after_its_marker_is_the_controls_not_the_runs():
    text = ("# l2wg: kmemleak scan: 0 unreferenced objects\n" + marker("KMEMLEAK", "kmemleak")
            + KMEMLEAK_REPORT + END)
    own, found = split(text)
    assert own == [] and [(c.name, c.ok) for c in found] == [("KMEMLEAK", True)]
    _, missed = split(marker("KMEMLEAK", "kmemleak") + END)
    assert controls.errors(missed, [("KMEMLEAK", "kmemleak")]) == [
        "positive control KMEMLEAK (console line 1) raised no report, not kmemleak: "
        "this run's '0 kmemleak reports' proves nothing"]


def test_each_control_claims_the_reports_after_its_marker_and_not_the_runs():
    real = "[   50.000000] BUG: KASAN: slab-out-of-bounds in wg_l2_rx+0x10/0x20\n" \
        "[   50.000001] ==================================================================\n"
    text = ("L2WG-BOOTED\n" + real + "# l2wg: kmemleak scan: 0 unreferenced objects\n"
            + marker("READ_AFTER_FREE", "KASAN") + KASAN_REPORT
            + marker("ARRAY_BOUNDS", "UBSAN") + UBSAN_REPORT + END + "L2WG-DONE\n")
    own, found = split(text)
    assert [r.summary for r in own] == ["BUG: KASAN: slab-out-of-bounds in wg_l2_rx+0x10/0x20"]
    assert [(c.name, c.ok, [r.kind for r in c.seen]) for c in found] == \
        [("READ_AFTER_FREE", True, ["KASAN"]), ("ARRAY_BOUNDS", True, ["UBSAN"])]
    assert controls.errors(found, [("READ_AFTER_FREE", "KASAN"), ("ARRAY_BOUNDS", "UBSAN")]) == []


def test_a_control_that_raises_nothing_or_the_wrong_report_fails():
    text = (marker("READ_AFTER_FREE", "KASAN") + "[  900.0] lkdtm: Memory correctly poisoned\n"
            + marker("ARRAY_BOUNDS", "UBSAN") + KASAN_REPORT + END)
    _, found = split(text)
    errors = controls.errors(found, [("READ_AFTER_FREE", "KASAN"), ("ARRAY_BOUNDS", "UBSAN")])
    assert len(errors) == 2
    assert "READ_AFTER_FREE" in errors[0] and "raised no report, not KASAN" in errors[0]
    assert "ARRAY_BOUNDS" in errors[1] and "raised KASAN, not UBSAN" in errors[1]


def test_a_planned_control_the_guest_never_reached_is_an_error():
    _, found = split(marker("READ_AFTER_FREE", "KASAN") + KASAN_REPORT)
    errors = controls.errors(found, [("READ_AFTER_FREE", "KASAN"), ("ARRAY_BOUNDS", "UBSAN")])
    assert errors == ["positive control ARRAY_BOUNDS never ran (the guest stopped before it): "
                      "this run's '0 UBSAN reports' proves nothing"]


def test_reports_after_the_end_marker_are_the_runs_again():
    late = "[  950.000000] BUG: KASAN: double-free in wg_peer_put+0x1/0x2\n"
    own, found = split(marker("READ_AFTER_FREE", "KASAN") + KASAN_REPORT + END + late)
    assert [r.kind for r in own] == ["KASAN"] and own[0].summary.startswith("BUG: KASAN: double")
    assert found[0].ok and len(found[0].seen) == 1


def test_without_markers_every_report_is_the_runs():
    own, found = split("L2WG-BOOTED\n" + KASAN_REPORT + "L2WG-DONE\n")
    assert found == [] and [r.kind for r in own] == ["KASAN"]


PERCPU_REPORT = """\
unreferenced object (percpu) 0x607fdf601a80 (size 4):
  comm "insmod", pid 412, jiffies 4295862060
  hex dump (first 4 bytes on cpu 0):
    00 00 00 00                                      ....
"""


def test_a_percpu_leak_is_a_kmemleak_report_too():
    # kmemleak-test.ko also leaks an alloc_percpu() object; kmemleak prints
    # it as "(percpu)".  Missed, a run that leaks only per-cpu memory passes.
    own, found = split(marker("KMEMLEAK", "kmemleak") + PERCPU_REPORT + END)
    assert [(c.name, c.ok) for c in found] == [("KMEMLEAK", True)]
    assert [r.kind for r in qemu.find_reports(PERCPU_REPORT)] == ["kmemleak"]
