"""The l2wg verbs: each turns parsed arguments into one library call and a summary."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInput, CheckFailed, FetchError, of_kind
from ..progress import Progress
from ..project import Project
from ..workspace import Workspace
from .exits import EXIT_CODES

if TYPE_CHECKING:
    from ..build import BuildOptions
    from ..rebase import RebaseOptions
    from ..submit import SubmitOptions


def _context(args) -> tuple[Project, Workspace, Progress]:
    project = Project(args.project.resolve()) if args.project else Project.find()
    ws = Workspace(args.workspace.resolve()) if args.workspace else Workspace.default()
    return project, ws, Progress(quiet=args.quiet)


def _kernel(args, project: Project):
    """The kernel the verb is about: the one named, else kernels.toml's default."""
    matrix = project.matrix()
    return matrix.get(args.kernel or matrix.default)


def cmd_kernels(args) -> int:
    project, ws, _ = _context(args)
    matrix = project.matrix()
    if args.available:
        from .. import available

        log = ws.logs / "kernels-available.log"
        result = available.available(matrix, ws, log, refresh=args.refresh)
        if result.lines:
            print(available.table(result))
        if result.problems:
            raise FetchError("; ".join(result.problems))
        return 0
    if args.refresh:
        raise BadInput("--refresh goes with --available")
    print(f"{'kernel':<10} {'version':<10} {'offline':<8} {'ci':<4} source")
    for k in matrix.kernels.values():
        mark = "*" if k.name == matrix.default else " "
        print(f"{k.name + mark:<10} {k.version or '-':<10} "
              f"{'no' if k.source.needs_network else 'yes':<8} {'yes' if k.ci else 'no':<4} "
              f"{k.source.describe()}")
    print("* = default")
    return 0


def cmd_build(args) -> int:
    from ..build import build, summary

    project, ws, progress = _context(args)
    kernel = _kernel(args, project)
    result = build(kernel, project, ws, build_options(args), progress)
    print(summary(result))
    return 0


def build_options(args) -> BuildOptions:
    from ..build import BuildOptions

    for var in args.make_vars:
        if "=" not in var:
            raise BadInput(f"'{var}' is not a make variable (expected VAR=VALUE)")
    return BuildOptions(jobs=args.jobs, variant=args.variant, fragments=tuple(args.fragment),
                        llvm=args.llvm, ccache=not args.no_ccache,
                        make_vars=tuple(args.make_vars), rebuild=args.rebuild,
                        build_dir=args.build_dir.resolve() if args.build_dir else None,
                        out=getattr(args, "out", None) and args.out.resolve())


def cmd_bench(args) -> int:
    from ..bench import bench_boot, bench_build
    from ..userspace import guest_programs

    project, ws, progress = _context(args)
    if args.what == "pipeline":
        return _bench_pipeline(args, project, ws, progress)
    kernel = _kernel(args, project)
    rounds = args.rounds or 3
    if args.what == "boot":
        figures = bench_boot(ws.artifacts(kernel.name, args.variant), ws, rounds, progress,
                             args.check, jobs=args.parallel,
                             programs=guest_programs(project.matrix(), ws, progress))
    else:
        figures = bench_build(kernel, project, ws, rounds, progress, build_options(args))
    print(f"{args.what} benchmark, kernel {kernel.name}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}:")
    for figure in figures:
        print("  " + figure.line())
    return 0


def _bench_pipeline(args, project, ws, progress) -> int:
    from .. import pipeline
    from ..bench import bench_pipeline, phase_table

    matrix = project.matrix()
    kernels = matrix.select([args.kernel] if args.kernel else [])
    stages = tuple(s.strip() for s in (args.stages or ",".join(pipeline.STAGES)).split(","))
    unknown = [s for s in stages if s not in pipeline.STAGES]
    if unknown:
        raise BadInput(f"unknown stage(s) {', '.join(unknown)} "
                        f"(stages: {', '.join(pipeline.STAGES)})")
    runs, figures, root = bench_pipeline(kernels, project, ws, args.rounds or 1, progress,
                                         stages, keep=args.keep,
                                         parallel=args.parallel)
    print(f"pipeline benchmark, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} "
          f"(workspace {root}{'' if args.keep else ', removed'}):")
    print(phase_table(runs))
    for figure in figures:
        print("  " + figure.line())
    return 1 if any(r.failed for r in runs) else 0


def cmd_boot(args) -> int:
    from .. import checks

    if args.list:
        print(checks.describe())
        return 0
    project, ws, progress = _context(args)
    kernel = _kernel(args, project)
    artifacts = args.artifacts or ws.artifacts(kernel.name, args.variant)
    from ..userspace import guest_programs

    # --artifacts names its own kernel (its metadata.json), not the default entry's.
    label = "" if args.artifacts else kernel.name
    _checked([_boot_and_report(ws, artifacts, label, progress, checks=args.check,
                               script=args.script, shell=args.shell, accel=args.accel,
                               on_console=print if args.console else None,
                               jobs=args.parallel, cpus=args.cpus,
                               programs=guest_programs(project.matrix(), ws, progress))])
    return 0


def _checked(failures: list[str | None]) -> None:
    """Raise CheckFailed for the boots of *failures* that did not pass (None: passed)."""
    failed = [f for f in failures if f]
    if failed:
        raise CheckFailed("; ".join(failed))


def _boot_and_report(ws, artifacts: Path, label: str, progress: Progress,
                     **options) -> str | None:
    """Boot *artifacts*, print the results table (or the script's output); what did not
    pass, in a line, or None.  *label* names the boot (default: the artifacts' kernel)."""
    from .. import boot, report

    result = boot.boot(ws, artifacts, progress=progress, **options)
    label = label or result.kernel
    if result.suite is not None:
        print(report.summary_table([result.suite]))
        details = report.failure_details([result.suite])
        if details:
            print(details)
    elif result.mode == "script":
        print(result.script_output, end="")
        print(f"l2wg: script exit status {result.script_exit}")
    for error in result.errors:
        print(f"l2wg: {error}", file=sys.stderr)
    print(f"l2wg: {label}: run directory {result.run_dir} (console.log; command.sh reruns "
          "the boot by hand)")
    if result.ok:
        return None
    if result.suite is not None and result.suite.errors:
        return f"{label}: {result.suite.errors[0].splitlines()[0]}"
    if result.suite is not None:
        failed = [c.name for c in result.suite.checks if c.status.value == "fail"]
        if failed:
            return f"{label}: check(s) failed: {', '.join(failed)}"
        return f"{label}: no check passed (see the table)"
    if result.errors:
        return f"{label}: {result.errors[0].splitlines()[0]}"
    if result.mode == "script":
        return (f"{label}: the script exited {result.script_exit}" if result.script_exit
                is not None else f"{label}: the guest never reported the script's exit status")
    return f"{label}: the boot did not pass"


def cmd_interop(args) -> int:
    from .. import interop, report
    from ..userspace import guest_programs

    if args.list:
        print(interop.describe())
        return 0
    if not args.kernel_a or not args.kernel_b:
        raise BadInput("name two kernels: l2wg interop A B (kernels.toml entries, dkms:K "
                       "or dkms:K+TEST_PATCH, e.g. 7.3 6.1)")
    project, ws, progress = _context(args)
    matrix = project.matrix()
    # What was asked for is checked before anything is fetched (the guest's wg).
    interop.select(args.check)
    guests = interop.find_pair(ws, matrix, args.kernel_a, args.kernel_b, progress)
    programs = guest_programs(matrix, ws, progress)
    result = interop.interop(ws, guests, checks=args.check, underlay=args.underlay,
                             family=args.family, accel=args.accel, progress=progress,
                             on_console=print if args.console else None, programs=programs,
                             cpus=args.cpus)
    print(interop.table(result))
    details = report.failure_details(result.suites)
    if details:
        print(details)
    print(f"l2wg: run directory {result.run_dir} (console-a.log, console-b.log; "
          "command-a.sh and command-b.sh are the QEMU commands)")
    if args.summary:
        args.summary.write_text((result.run_dir / "interop.json").read_text())
    if not result.ok:
        failed = [f"{s.label} {c.name}" for s in result.suites for c in s.checks
                  if c.status.value == "fail"]
        errors = [f"{s.label}: {e.splitlines()[0]}" for s in result.suites for e in s.errors]
        raise CheckFailed("; ".join(errors + ([f"check(s) failed: {', '.join(failed)}"]
                                              if failed else [])) or "the pair did not pass")
    return 0


def cmd_dkms(args) -> int:
    from .. import packages
    from ..kernels import DkmsHeaders
    from ..userspace import guest_programs

    project, ws, progress = _context(args)
    kernel = _kernel(args, project)
    headers = [DkmsHeaders.parse(h) for h in args.headers] if args.headers else None
    result = packages.dkms(kernel, project, ws, progress, headers, boot=not args.no_boot)
    print(f"DKMS source: {result.source.path}")
    print(f"package:     {result.deb}")
    failures = []
    for proof in result.proofs:
        print(f"dkms in the {proof.chroot} chroot for {proof.release}: {proof.module} "
              f"(vermagic {proof.vermagic})")
        if proof.boot_artifacts is not None:
            failures.append(_boot_and_report(
                ws, proof.boot_artifacts, proof.release, progress, checks=args.check,
                programs=guest_programs(project.matrix(), ws, progress)))
    _checked(failures)
    return 0


def cmd_deb(args) -> int:
    from .. import packages
    from ..userspace import guest_programs

    project, ws, progress = _context(args)
    kernel = _kernel(args, project)
    result = packages.deb(kernel, project, ws, progress, build_options(args),
                          binary_only=args.binary_only)
    for path in result.debs:
        print(f"package: {path}")
    if args.no_boot:
        return 0
    _checked([_boot_and_report(ws, result.boot_artifacts, result.release, progress,
                               checks=args.check,
                               programs=guest_programs(project.matrix(), ws, progress))])
    return 0


def cmd_ci(args) -> int:
    from .. import dashboard, pipeline

    project, ws, progress = _context(args)
    matrix = project.matrix()
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = [s for s in stages if s not in pipeline.STAGES]
    if unknown:
        raise BadInput(f"unknown stage(s) {', '.join(unknown)} "
                        f"(stages: {', '.join(pipeline.STAGES)})")
    # Both positionals are open-ended: VAR=VALUE words are make variables.
    args.make_vars = [w for w in args.kernels if "=" in w] + args.make_vars
    kernels = matrix.select([w for w in args.kernels if "=" not in w], online=args.online)
    if not kernels:
        raise BadInput("no kernel to run (all need the network? try --online)")
    opts = pipeline.PipelineOptions(stages=stages, checks=tuple(args.check) if args.check else None,
                                    build=build_options(args), parallel=args.parallel)
    runs = pipeline.run_matrix(kernels, project, ws, opts, progress)
    page = dashboard.write(runs, args.report or ws.root / "report")
    print(dashboard.table(runs))
    print(f"report: {page}")
    failed = [(run.kernel, stage) for run in runs for stage in run.stages
              if stage.status == "fail"]
    if failed:
        # Several kinds: the lowest exit code, the failure earliest in the pipeline.
        kind = min((stage.kind for _, stage in failed), key=lambda k: EXIT_CODES.get(k, 1))
        kernels = {kernel for kernel, _ in failed}
        raise of_kind(kind)(f"{len(kernels)} of {len(runs)} kernel(s) failed: " + ", ".join(
            f"{kernel} {stage.stage} ({stage.kind})" for kernel, stage in failed))
    return 0


def cmd_ci_files(args) -> int:
    from .. import workflows

    project, _, _ = _context(args)
    if args.check:
        workflows.check(project)
        print("CI files are in sync with kernels.toml")
        return 0
    for path in workflows.write(project):
        print(f"wrote {path.relative_to(project.root)}")
    return 0


def cmd_rebase(args) -> int:
    """Run the verb for parsed *args*; print the outcome; return the exit status."""
    from ..rebase import (abort_rebase, continue_rebase, force_abort, rebase, rebase_all,
                         summary, table)

    project, ws, progress = _context(args)
    opts = rebase_options(args)
    if args.force and not args.abort:
        raise BadInput("--force goes with --abort")
    if args.all:
        results = rebase_all(project, ws, opts, progress)
        print(table(results))
        print(f"reports: {ws.root / 'rebase'}/KERNEL/report.txt")
        return 0 if all(status == "done" for _, status, _ in results) else 1
    if args.abort:
        print(force_abort(args.kernel, ws, progress) if args.force else
              summary(abort_rebase(args.kernel, ws, progress)))
        return 0
    if args.cont:
        state = continue_rebase(args.kernel, project, ws, progress)
    else:
        if not args.kernel:
            raise BadInput("name the kernel to rebase onto (a kernels.toml entry or a version)")
        state = rebase(args.kernel, project, ws, opts, progress)
    print(summary(state))
    return 0 if state.status == "done" else 1


def rebase_options(args) -> RebaseOptions:
    from ..rebase import RebaseOptions

    return RebaseOptions(strict=args.strict, online=args.online, write=args.write,
                         build=args.build, make_canonical=args.make_canonical)


def cmd_submit(args) -> int:
    from .. import submit

    project, ws, progress = _context(args)
    print(submit.summary(submit.submit(project, ws, submit_options(args), progress)))
    return 0


def submit_options(args) -> SubmitOptions:
    from ..submit import SubmitOptions

    return SubmitOptions(base=args.base, revision=args.revision,
                         out=args.out.resolve() if args.out else None, reflect=args.reflect,
                         send=args.send, yes=args.yes, signoff=args.signoff,
                         build_check=not args.skip_build_check, jobs=args.jobs)


COMMANDS = {"rebase": cmd_rebase, "submit": cmd_submit, "ci": cmd_ci, "ci-files": cmd_ci_files, "kernels": cmd_kernels, "build": cmd_build, "boot": cmd_boot, "interop": cmd_interop, "dkms": cmd_dkms,
            "deb": cmd_deb, "bench": cmd_bench}
