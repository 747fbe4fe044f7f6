"""The benchmarks' own logic: the pipeline benchmark's edit (one kernel
message in one patch, in a copy), and the throughput summary (medians.awk)."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

import pytest

from l2wg import bench
from l2wg.project import Project


def test_edit_one_patch_changes_one_added_kernel_message_in_a_copy(project, tmp_path):
    before = {p.name: p.read_text() for p in project.patches.glob("*.patch")}
    copy, what = bench.edit_one_patch(project.root, tmp_path)
    assert {p.name: p.read_text() for p in project.patches.glob("*.patch")} == before
    edited = Project(copy)
    assert edited.series().names == project.series().names
    changed = {p.name: p.read_text() for p in edited.patches.glob("*.patch")
               if p.read_text() != before[p.name]}
    assert list(changed) == [what.split(":")[0]]
    name, text = next(iter(changed.items()))
    old, new = before[name].split("\n"), text.split("\n")
    assert len(old) == len(new)          # hunk line counts still hold
    diff = [d for d in difflib.ndiff(old, new) if d[:1] in "+-"]
    assert len(diff) == 2 and diff[1].startswith("+ +")
    assert diff[1].replace(bench.EDIT_MARK, "", 1) == "+" + diff[0][1:]   # only the mark added
    assert bench.MESSAGE_RE.match(diff[1][2:]) and f'("{bench.EDIT_MARK}' in diff[1]
    assert edited.series().digest("6.12") != project.series().digest("6.12")


MEDIANS = Path(__file__).resolve().parents[1] / "ci" / "bench" / "medians.awk"


def summarize(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(["awk", "-f", str(MEDIANS)], input=text, text=True,
                          capture_output=True)


def test_the_throughput_summary_gives_medians_and_both_ratios_to_the_first_link():
    rounds = [(1, 100, 90), (2, 80, 88), (3, 120, 0), (4, 110, 99), (5, 90, 81)]
    text = "# a guest line\n" + "".join(
        f"[a:7.3] round {r} l3-wireguard {l3} Mbit/s\nround {r} l2wireguard {l2} Mbit/s\n"
        for r, l3, l2 in rounds)
    done = summarize(text)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:len(text.splitlines())] == text.splitlines()     # passed through
    summary = dict(line.split(None, 1) for line in lines[-2:])
    # medians 100 and 88; per-round ratios .9 1.1 0 .9 .9 -> median .9
    assert summary["l3-wireguard"].split() == ["100.0", "(1.00;", "1.00)"]
    assert summary["l2wireguard"].split() == ["88.0", "(0.88;", "0.90)"]
    assert "over 5 rounds" in lines[-3]


def test_the_throughput_summary_reads_rounds_that_also_say_how_busy_the_cpus_were():
    # ci/interop/throughput.sh follows each figure with the sender's CPU load.
    text = "".join(f"round {r} l3-wireguard {l3} Mbit/s, this guest's CPUs {busy}% busy\n"
                   f"round {r} l2wireguard {l2} Mbit/s, this guest's CPUs {busy}% busy\n"
                   for r, l3, l2, busy in [(1, 100, 95, 80), (2, 120, 90, 99), (3, 110, 99, 70)])
    done = summarize(text)
    assert done.returncode == 0, done.stderr
    summary = dict(line.split(None, 1) for line in done.stdout.splitlines()[-2:])
    assert summary["l3-wireguard"].split()[0] == "110.0"
    assert summary["l2wireguard"].split() == ["95.0", "(0.86;", "0.90)"]


@pytest.mark.parametrize("text", ["", "no figures here\n", "round x l2wireguard 5 Mbit/s\n"])
def test_the_throughput_summary_fails_when_no_round_was_measured(text):
    done = summarize(text)
    assert done.returncode == 1
    assert "no 'round R LINK MBIT Mbit/s' line" in done.stderr


def test_bench_throughput_help_teaches_both_uses_without_booting_anything(project):
    """Its options go on to l2wg boot or interop, so --help must be caught first:
    it printed l2wg boot's usage after an error of the summary script."""
    done = subprocess.run([str(project.root / "tools" / "bench-throughput"), "--help"],
                          capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("TCP throughput of l2wireguard against L3 WireGuard")
    assert "tools/bench-throughput [--flows N] [KERNEL]" in done.stdout
    assert "tools/bench-throughput --interop A B" in done.stdout
    assert "#" not in done.stdout and "set -euo" not in done.stdout
