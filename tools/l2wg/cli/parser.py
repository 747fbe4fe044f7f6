"""The l2wg command line's parser: every verb, option and help text (argparse lives here)."""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

from .. import __version__

EPILOG = """\
The pipeline, one stage feeding the next:
  kernels.toml -> source (cached, verified) -> git tree (pristine + one commit per patch)
  -> config (tinyconfig + ci/kconfig fragments, solved with kconfiglib, verified)
  -> build (O= dir; bzImage, config, build.log, metadata.json) -> boot and checks in QEMU

Files: the cache, trees and builds live under $L2WG_HOME (default
~/.cache/l2wg), with l2wg's own apt configuration for Debian suites other
than the host's in $L2WG_HOME/apt/; kernels.toml, patches/ and ci/ come
from the checkout.

Exit status, by kind of failure (any verb):
  0    success
  1    a failure of none of the kinds below (a rebase stopped at a conflict,
       a work tree with uncommitted changes, a busy build directory, ...)
  2    bad input: kernels.toml, patches/series, an argument, an unknown kernel
  3    missing tool: a program l2wg needs is not installed
  4    fetch failure: a source or package could not be fetched, or did not
       verify (sha256, the archive's or kernel.org's signature)
  5    build failure: the series does not apply, the config cannot be made,
       make failed
  6    check failure: a check in the guest failed, or the guest crashed
  70   internal error: a bug in l2wg; one line, and the traceback in a file
       under $L2WG_HOME/logs/
  130  interrupted: Ctrl-C, or SIGTERM (timeout(1), a CI job's limit); the QEMU
       guests and make that l2wg started end with it
`l2wg ci` with kernels failing in different ways exits with the lowest of
their codes; expected failures (kernels.toml expect) are not failures.
"""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", type=Path, metavar="DIR",
                        help="cache, trees and builds (default: $L2WG_HOME or ~/.cache/l2wg)")
    parser.add_argument("--project", type=Path, metavar="DIR",
                        help="the l2wg checkout (default: found from the current directory)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every command run")


def _paragraphs(text: str) -> str:
    """*text* wrapped for a RawDescriptionHelpFormatter, keeping its blank-line paragraphs."""
    return "\n\n".join(textwrap.fill(par, 78, break_on_hyphens=False) for par in text.split("\n\n"))


def _add_kernel(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kernel", nargs="?", help="a kernels.toml entry (default: its 'default')")


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="parallel make jobs (default: %(default)s, the number of CPUs)")
    parser.add_argument("--debug", dest="variant", action="store_const", const="debug",
                        default="default",
                        help="the debug variant: adds ci/kconfig/debug.config (KASAN, UBSAN, "
                             "lockdep, kmemleak)")
    parser.add_argument("--fragment", action="append", default=[], metavar="NAME",
                        help="add ci/kconfig/NAME.config (repeatable)")
    parser.add_argument("--llvm", action="store_true", help="build with LLVM=1 (clang, ld.lld)")
    parser.add_argument("--no-ccache", action="store_true", help="do not use ccache even if installed")
    parser.add_argument("--rebuild", action="store_true",
                        help="run every stage even when its inputs are unchanged since its "
                             "last success (default: reuse it; see 'up to date' lines)")
    parser.add_argument("-O", "--build-dir", type=Path, metavar="DIR",
                        help="kbuild O= directory (default: one per kernel and variant in the workspace)")
    parser.add_argument("make_vars", nargs="*", metavar="VAR=VALUE",
                        help="extra make variables, e.g. W=1 C=1 KCFLAGS=-Werror")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="l2wg", description="Carry the l2wireguard patch series across kernel versions.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"l2wg {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = sub.add_parser("kernels", help="list the kernels in kernels.toml, or the lines Debian offers",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="List the matrix: each kernel, its source and whether it is "
                                   "reachable offline.  --available lists instead the kernel "
                                   "lines (linux-source-X.Y) the Debian archive offers in the "
                                   "host's apt sources and in the suites of kernels.toml's "
                                   "[debian] table, each with its newest version and suite, "
                                   "and marks those no kernels.toml entry covers.  Other "
                                   "suites are read through l2wg's own apt configuration in "
                                   "$L2WG_HOME/apt/ (the host's apt set-up is never changed); "
                                   "their lists are fetched when missing, and again with "
                                   "--refresh.",
                       epilog="examples:\n  l2wg kernels\n  l2wg kernels --available\n"
                              "  l2wg kernels --available --refresh\n")
    p.add_argument("--available", action="store_true",
                   help="list the kernel lines the Debian archive offers, marking new ones")
    p.add_argument("--refresh", action="store_true",
                   help="with --available: fetch l2wg's lists of the [debian] suites again "
                        "(apt-get update of its private lists, never the host's)")
    _add_common(p)

    p = sub.add_parser("build", help="fetch, patch, configure and build a kernel",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Get KERNEL's source, apply patches/series, make the config "
                                   "from its fragments and build the boot image out of tree.",
                       epilog="examples:\n  l2wg build 6.12\n  l2wg build 6.1 --out /tmp/k61 W=1\n"
                              "  l2wg build 6.12 --debug -j2\n")
    _add_kernel(p)
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="where bzImage, config, build.log and metadata.json go "
                        "(default: the workspace's out/KERNEL)")
    _add_build_options(p)
    _add_common(p)

    p = sub.add_parser("boot", help="boot a built kernel in QEMU and run the checks",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Boot KERNEL's latest build (l2wg build) in QEMU with a small "
                                   "initramfs of this machine's real programs (ip, bridge, wg, "
                                   "pppd, ...) and run the guest checks of ci/checks/, or one "
                                   "script, or a shell.  Results: a table on the terminal, and "
                                   "results.json, junit.xml and console.log in the run directory "
                                   "(ARTIFACTS/boot/latest).  KVM is used only when a real probe "
                                   "boots; otherwise TCG.",
                       epilog="examples:\n  l2wg boot 6.12\n  l2wg boot 6.1 --check ping "
                              "--check vlan\n  l2wg boot 6.12 --check netns      "
                              "# upstream netns.sh (slow)\n  l2wg boot 6.12 --script my-test.sh\n"
                              "  l2wg boot 6.12 --shell\n  l2wg boot 6.12 --debug   "
                              "# the KASAN/lockdep build of l2wg build --debug\n")
    _add_kernel(p)
    p.add_argument("--check", action="append", metavar="NAME",
                   help="run only this check (repeatable; 'all' includes the slow ones); "
                        "see --list")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    p.add_argument("--script", type=Path, metavar="FILE",
                   help="run FILE in the guest (sh) and return its output and exit status")
    p.add_argument("--shell", action="store_true", help="an interactive shell in the guest")
    p.add_argument("--artifacts", type=Path, metavar="DIR",
                   help="boot the build in DIR (default: the workspace's out/KERNEL)")
    p.add_argument("--debug", dest="variant", action="store_const", const="debug",
                   default="default", help="boot the debug variant (l2wg build --debug)")
    p.add_argument("--accel", choices=["kvm", "tcg"],
                   help="force an accelerator instead of the cached probe")
    p.add_argument("--console", action="store_true", help="show the guest console as it runs")
    p.add_argument("--cpus", type=int, metavar="N",
                   help="the guest's CPUs (QEMU -smp; default: what the artifacts' "
                        "metadata.json declares, else 2: 1 for Debian's kernels with the "
                        "DKMS module); e.g. 4 for tools/bench-throughput --flows 4")
    _add_parallel(p)
    _add_common(p)

    p = sub.add_parser("interop", help="two kernels, one QEMU guest each, checks across a "
                                       "real link between them",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_paragraphs(
                                   "Boot the default builds (l2wg build) of kernels A and B at "
                                   "the same time, each in its own QEMU guest (one CPU), joined "
                                   "by an underlay link between the VMs; each guest is a site "
                                   "(a LAN host, a bridge, l2wg0 with the other guest as its "
                                   "peer, with keys made for the run), and runs the checks of "
                                   "ci/interop/ from its side, so each runs both ways.  Results: "
                                   "one table with a column per guest, and results.json, "
                                   "junit.xml, interop.json, both console logs and the exact "
                                   "QEMU commands in $L2WG_HOME/interop/A-B/<stamp>/ "
                                   "(latest: the newest).\n\n"
                                   "Underlays: virtio-net (a NIC in each guest, joined by QEMU's "
                                   "-netdev dgram on 127.0.0.1; needs CONFIG_PCI, "
                                   "CONFIG_VIRTIO_PCI and CONFIG_VIRTIO_NET: Debian's kernels "
                                   "and ci/kconfig/checks.config have them) or ppp-serial (PPP on a second "
                                   "serial port, joined by a TCP chardev on 127.0.0.1; for "
                                   "kernels built without the NIC).  No root, tap or bridge on "
                                   "the host.\n\n"
                                   "A guest named dkms:K (e.g. dkms:7.3) is Debian's own kernel "
                                   "with the DKMS-built module, as the last 'l2wg dkms K' laid "
                                   "it out (its first headers package); it loads the modules "
                                   "the interop checks and the underlays need (VIRTIO_NET and "
                                   "PPP_ASYNC are modules there).\n\n"
                                   "A guest named dkms:K+PATCH is that guest with its module "
                                   "rebuilt from the same DKMS source plus "
                                   "ci/test-patches/PATCH.patch, in the same chroot: a test-only "
                                   "peer, such as one of a newer wire format (future-format).  "
                                   "Such a pair runs topology and the check named after the "
                                   "patch, unless --check says otherwise."),
                       epilog="examples:\n  l2wg interop 7.3 6.1\n  l2wg interop 6.1 7.3 "
                              "--check ping\n  l2wg interop 7.3 7.3 --underlay ppp-serial "
                              "--family 6\n  l2wg interop 7.3 dkms:7.3\n"
                              "  l2wg interop dkms:7.3 dkms:7.3+future-format\n"
                              "  l2wg interop --list\n")
    p.add_argument("kernel_a", nargs="?", metavar="A",
                   help="guest a: a kernels.toml entry (its default build), dkms:K or "
                        "dkms:K+PATCH")
    p.add_argument("kernel_b", nargs="?", metavar="B",
                   help="guest b: a kernels.toml entry (its default build), dkms:K or "
                        "dkms:K+PATCH")
    p.add_argument("--check", action="append", metavar="NAME",
                   help="run only this check (repeatable; topology always runs first); "
                        "see --list")
    p.add_argument("--list", action="store_true", help="list the interop checks and exit")
    p.add_argument("--underlay", choices=["auto", "virtio-net", "ppp-serial"], default="auto",
                   help="the link between the guests (default: %(default)s, the first both "
                        "kernels can drive, in that order)")
    p.add_argument("--family", type=int, choices=[4, 6], default=4,
                   help="address family of the WireGuard endpoints on the underlay "
                        "(default: %(default)s)")
    p.add_argument("--accel", choices=["kvm", "tcg"],
                   help="force an accelerator instead of the cached probe")
    p.add_argument("--console", action="store_true",
                   help="show both guests' consoles as they run (prefixed a:/b:)")
    p.add_argument("--cpus", type=int, metavar="N",
                   help="each guest's CPUs (QEMU -smp; default: 1, as two guests share the "
                        "host's cores).  The kernels built here are SMP, as Debian's are.  "
                        "The throughput check sends one TCP "
                        "flow per CPU: tools/bench-throughput --interop A B --cpus 4")
    p.add_argument("--summary", type=Path, metavar="FILE",
                   help="also copy the run's interop.json to FILE, pass or fail: the pair, "
                        "its run directory (run_dir), underlay, seconds and verdict, for "
                        "scripts such as tools/bench-throughput")
    _add_common(p)

    from .. import submit

    p = sub.add_parser("rebase", help="carry the series to another kernel version",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Apply the series patch by patch to VERSION's tree and report "
                                   "each as clean, three-way merged or conflicted.  On success "
                                   "the refreshed patches go to patches/ (as patches/<line>/ "
                                   "overrides where the line needs its own version); on a "
                                   "conflict the tree is left ready to resolve, with a report "
                                   "(text and JSON).  Nothing under patches/ changes until a "
                                   "rebase completes.",
                       epilog="examples:\n  l2wg rebase 6.1\n  l2wg rebase 6.12.107      "
                              "# a Debian point release\n  l2wg rebase 6.1 --continue\n"
                              "  l2wg rebase 6.1 --abort\n  l2wg rebase --all --strict\n"
                              "  l2wg rebase 7.3 --build --make-canonical   # a forward port "
                              "to a new line\n"
                              "  l2wg rebase 6.1 --abort --force   # a state file l2wg "
                              "cannot read\n")
    _add_rebase_arguments(p)
    _add_common(p)

    p = sub.add_parser("submit", help="prepare the series for the mailing list with b4",
                       description=submit.__doc__.strip().split("\n\n")[0])
    add_submit_arguments(p)
    _add_common(p)

    p = sub.add_parser("dkms", help="DKMS package of the patched driver, proven on Debian's kernels",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_paragraphs(
                                   "Make a DKMS source tree and an l2wireguard-dkms .deb (dh-dkms) "
                                   "from KERNEL's patched drivers/net/wireguard.  For each "
                                   "headers package (kernels.toml dkms_headers), install the .deb "
                                   "with apt in a chroot of the headers' Debian suite (bookworm "
                                   "unless the entry names another, e.g. sid), with that suite's "
                                   "dkms and the headers: its postinst runs dkms for real, as on "
                                   "a machine of that suite.  Then boot Debian's own linux-image "
                                   "of that version in QEMU with the DKMS-built module loaded "
                                   "instead of the stock one and run the checks.\n\n"
                                   "The chroots are made with mmdebstrap (signatures checked "
                                   "against debian-archive-keyring) and cached in "
                                   "$L2WG_HOME/chroots: a base per suite, a layer per headers "
                                   "package.  Commands run in them in a private mount namespace. "
                                   "Nothing is installed on the host and nothing stays mounted; "
                                   "its apt, dpkg, /lib/modules and DKMS state are untouched.  "
                                   "Needs root."),
                       epilog="examples:\n  l2wg dkms 6.12\n  l2wg dkms 6.1 --headers "
                              "linux-headers-6.1.0-55-amd64\n"
                              "  l2wg dkms 6.12 --headers "
                              "linux-headers-6.12.107+deb12-amd64/bookworm --no-boot\n")
    _add_kernel(p)
    p.add_argument("--headers", action="append", metavar="PACKAGE[/SUITE]",
                   help="a linux-headers package to build for, from SUITE (apt's spelling; "
                        "default suite bookworm); repeatable; default: kernels.toml's "
                        "dkms_headers")
    p.add_argument("--no-boot", action="store_true",
                   help="build only (no linux-image is fetched); do not boot and check")
    p.add_argument("--check", action="append", metavar="NAME", help="run only this check")
    _add_common(p)

    p = sub.add_parser("deb", help="Debian packages of the patched kernel (make deb-pkg)",
                       description="Build KERNEL (as l2wg build does) and package it with "
                                   "'make deb-pkg' (source and binary packages; --binary-only: "
                                   "'make bindeb-pkg') in the same O= directory; then unpack the "
                                   "linux-image .deb and boot its vmlinuz with the checks.")
    _add_kernel(p)
    p.add_argument("--binary-only", action="store_true",
                   help="make bindeb-pkg: the binary packages only")
    p.add_argument("--no-boot", action="store_true", help="package only; do not boot and check")
    p.add_argument("--check", action="append", metavar="NAME", help="run only this check")
    _add_build_options(p)
    _add_common(p)

    p = sub.add_parser("ci", help="the whole pipeline over the matrix, with a report",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="For each kernel (default: every kernels.toml entry with "
                                   "ci = true whose source is reachable offline): build, boot "
                                   "and check, DKMS (+ boot of Debian's kernel with the module), "
                                   "deb-pkg (+ boot of the packaged kernel).  A failing kernel "
                                   "does not stop the others.  Then interop (l2wg interop "
                                   "A B) between the newest and the oldest line run, a row "
                                   "of its own ('7.3+6.1'), and between the newest and "
                                   "Debian's kernel with its DKMS module ('7.3+dkms:7.3'; "
                                   "skipped, with the reason, unless the newest's dkms stage "
                                   "passed in this run).  Writes a report directory: "
                                   "index.html, summary.json, junit.xml, summary.md, logs/.  "
                                   "A stage whose inputs (tree commit, config fragments, "
                                   "toolchain, image, check scripts ...) are unchanged since "
                                   "it last passed is reused and marked 'up to date'; "
                                   "--rebuild runs everything.",
                       epilog="examples:\n  l2wg ci\n  l2wg ci 6.1 --stages build,boot\n"
                              "  l2wg ci --online --report /tmp/report\n"
                              "  l2wg ci --rebuild     # ignore up-to-date stamps\n")
    p.add_argument("kernels", nargs="*", metavar="KERNEL", help="kernels.toml entries")
    p.add_argument("--online", action="store_true",
                   help="include kernels whose source needs the internet (kernel.org, git)")
    p.add_argument("--stages", default="build,boot,dkms,deb,interop",
                   help="comma-separated stages to run (default: %(default)s)")
    p.add_argument("--check", action="append", metavar="NAME", help="run only this check")
    p.add_argument("--report", type=Path, metavar="DIR",
                   help="report directory (default: the workspace's report/)")
    _add_parallel(p)
    _add_build_options(p)
    _add_common(p)

    p = sub.add_parser("ci-files", help="generate the GitHub Actions and TuxSuite files",
                       description="Write ci/github/l2wg.yml and ci/tuxsuite/KERNEL.yaml from "
                                   "kernels.toml.  --check only verifies they are in sync.")
    p.add_argument("--check", action="store_true", help="fail if the files are out of date")
    _add_common(p)

    p = sub.add_parser("bench", help="measure the pipeline's own speed (prints medians)",
                       description="Benchmarks: figures printed, never asserted.  'build': cold "
                                   "build with the source cached and ccache off, then a rebuild "
                                   "after touching one file in drivers/net/wireguard.  'boot': "
                                   "the guest initramfs cold and cached, then the check suite "
                                   "(one boot per round) on KERNEL's latest build.  'pipeline': "
                                   "l2wg ci over the offline matrix (or KERNEL) in a fresh "
                                   "workspace: cold (only downloads shared, ccache off), warm "
                                   "(nothing changed) and after one edited patch, with seconds "
                                   "per stage per kernel.  Rebase and throughput: "
                                   "tools/bench-rebase, tools/bench-throughput.")
    p.add_argument("what", choices=["build", "boot", "pipeline"], help="which benchmark")
    p.add_argument("--check", action="append", metavar="NAME", help="boot: only these checks")
    _add_kernel(p)
    p.add_argument("--rounds", type=int,
                   help="rounds per figure (default: 3; pipeline: 1 warm and 1 edit round "
                        "after the one cold run)")
    p.add_argument("--stages", help="pipeline: comma-separated stages (default: all)")
    p.add_argument("--keep", action="store_true",
                   help="pipeline: keep the benchmark's workspace (default: removed)")
    _add_parallel(p)
    _add_build_options(p)
    _add_common(p)
    return parser


def _at_least_one(text: str) -> int:
    """An argparse type: an integer of at least 1 (a count of things at once)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 1")
    return value


def _add_parallel(p: argparse.ArgumentParser) -> None:
    from ..boot import CHECKS_PER_CPU

    p.add_argument("--parallel", type=_at_least_one, metavar="N",
                   help="checks run at once in the guest, each in its own mount, PID and "
                        "network namespaces, so that nothing it starts outlives it "
                        f"(default: {CHECKS_PER_CPU} per guest CPU, so 4 on the "
                        "default 2-CPU guest and 2 on Debian's one-CPU DKMS guests; 1 streams each "
                        "check's output as it runs and ties a kernel oops to its check). Checks that "
                        "share a CPU get as many times their timeout, and one that times out "
                        "beside others runs once more, alone, at the end; the report says so")


def _add_rebase_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kernel", nargs="?",
                        help="a kernels.toml entry or a version (a Debian point release such "
                             "as 6.12.107, looked up in the line's entry's apt sources -- its "
                             "suite, if it names one -- then in the [debian] suites l2wg has "
                             "lists of; with --online a kernel.org release or tag)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--continue", dest="cont", action="store_true",
                      help="after resolving a conflict in the tree: apply the rest")
    mode.add_argument("--abort", action="store_true",
                      help="put the tree back as it was; patches/ is untouched")
    mode.add_argument("--all", action="store_true",
                      help="rebase onto every kernel of the matrix and print a table "
                           "(conflicts are reported and aborted)")
    parser.add_argument("--strict", action="store_true",
                        help="fail unless every patch applies exactly (no three-way merge)")
    parser.add_argument("--online", action="store_true",
                        help="allow kernel.org tarballs and git tags for versions not in "
                             "kernels.toml (and network sources with --all)")
    parser.add_argument("--no-write", dest="write", action="store_false",
                        help="keep refreshed patches in the report directory, not in patches/")
    parser.add_argument("--build", action="store_true",
                        help="compile drivers/net/wireguard/ (and every directory a patch "
                             "touches) after each patch, in a build directory of the kernel's "
                             "own config: a patch that applies but does not compile (an API "
                             "that moved) stops the rebase like a conflict; fix the files, "
                             "then --continue folds the fix into the patch")
    parser.add_argument("--make-canonical", action="store_true",
                        help="when the rebase completes, the series as it stands on this "
                             "kernel becomes patches/ itself and kernels.toml's canonical; "
                             "other lines' overrides are set aside and those lines are "
                             "rebased afresh (the summary says how)")
    parser.add_argument("--force", action="store_true",
                        help="with --abort: also when the rebase's state file cannot be read "
                             "(an older l2wg's, or corrupt): put the tree back as far as it "
                             "can and set the state aside")


def add_submit_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``l2wg submit`` (the caller adds --workspace, --project, -q, -v)."""
    parser.add_argument("--base", metavar="KERNEL",
                        help="the kernels.toml entry to base the series on (default: the "
                             "newest line available offline)")
    parser.add_argument("--revision", "-r", type=int, metavar="N",
                        help="make revision N (default: the last one sent + 1, from "
                             "patches/submission/b4.json)")
    parser.add_argument("-o", "--out", type=Path, metavar="DIR",
                        help="where the messages go (default: the workspace's "
                             "out/submit/KERNEL-vN)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--reflect", action="store_true",
                      help="after the checks, mail the series to yourself only")
    mode.add_argument("--send", action="store_true",
                      help="after the checks, mail the series to its recipients and record "
                           "the revision in patches/submission/")
    parser.add_argument("-y", "--yes", action="store_true",
                        help="with --send/--reflect: do not ask for confirmation")
    parser.add_argument("-s", "--signoff", action="store_true",
                        help="add your Signed-off-by to every patch (git am --signoff)")
    parser.add_argument("--skip-build-check", action="store_true",
                        help="do not build after every patch with W=1 C=2 (sparse) "
                             "(refused with --send)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="parallel make jobs for the build check (default: %(default)s)")


def bench_rebase_parser() -> argparse.ArgumentParser:
    """The options of tools/bench-rebase."""
    parser = argparse.ArgumentParser(
        prog="tools/bench-rebase", description="Time a point-release move: import a Debian "
        "point release from its line's tree, then rebase the series onto it.  Prints medians.")
    parser.add_argument("point_release", nargs="?", default="6.12.107",
                        help="a point release the archive keeps (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--full", action="store_true",
                        help="also time one full import of the same source, for comparison")
    parser.add_argument("--workspace", type=Path, metavar="DIR")
    parser.add_argument("--project", type=Path, metavar="DIR")
    return parser
