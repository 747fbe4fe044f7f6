"""Build a kernel out of tree (O=) and keep its artifacts with a metadata record.

``build()`` runs the whole chain for one kernel: source -> tree -> series ->
config -> ``make bzImage``.  Each kernel and variant has its own O= build
directory (incremental rebuilds), and the artifacts land in an output
directory: ``bzImage``, ``config``, ``build.log``, ``metadata.json``.  The
output directory is replaced only when a build succeeds.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import kconfig, sources, stamps, store, tree as trees
from .errors import BuildError, L2wgError, failing_as
from .git import run_git
from .kernels import Kernel
from .progress import Progress
from .project import Project
from .runner import format_command, run
from .workspace import Workspace

WARNING_RE = re.compile(r"^(?P<file>[\w./+-]+):(?P<line>\d+):(?:\d+:)? warning: (?P<text>.*)$")
IMAGE = {"x86_64": "arch/x86/boot/bzImage", "x86": "arch/x86/boot/bzImage",
         "i386": "arch/x86/boot/bzImage", "arm64": "arch/arm64/boot/Image"}
VARIANT_FRAGMENTS = {"default": (), "debug": ("debug", "kmemleak-test")}


@dataclass(frozen=True)
class BuildOptions:
    """What the user asked for, in kbuild's terms."""

    jobs: int = os.cpu_count() or 1
    variant: str = "default"
    fragments: tuple[str, ...] = ()     # added to the kernel's own
    llvm: bool = False
    ccache: bool = True                 # used when installed
    make_vars: tuple[str, ...] = ()     # extra VAR=value for make, e.g. W=1 C=1
    build_dir: Path | None = None       # O=; default under the workspace
    out: Path | None = None             # artifacts; default under the workspace
    target: str = ""                    # default: the arch's boot image
    rebuild: bool = False               # ignore the up-to-date stamp (stamps.py)


@dataclass
class Warning_:
    file: str
    line: int
    text: str


@dataclass
class BuildResult:
    """metadata.json: everything needed to know and redo what was built."""

    kernel: str
    version: str
    arch: str
    variant: str
    source: str
    source_detail: str
    tree: str
    tree_head: str
    series: list[str]
    series_digest: str
    overrides: list[str]
    fragments: list[str]
    config_sha256: str
    config_symbols_y: int
    config_implied: dict[str, str]
    build_dir: str
    out: str
    image: str
    toolchain: dict[str, str]
    durations: dict[str, float]
    warnings: int
    wireguard_warnings: list[dict]
    reproduce: list[str]
    ccache: bool
    extra: dict = field(default_factory=dict)
    #: The modules a config with CONFIG_MODULES=y built (`make modules`), in
    #: the artifacts' built-modules/; the guest gets them, loads none of them
    #: by itself (the debug variant's kmemleak control is one: controls.py).
    built_modules: list[str] = field(default_factory=list)

    def save(self, directory: Path) -> None:
        store.write_json(directory / "metadata.json", asdict(self))


def load_result(artifacts: Path) -> dict:
    """The metadata.json of a finished build, or a clear error."""
    data = store.read_json(artifacts / "metadata.json")
    if not data or not (artifacts / "bzImage").exists() and not data.get("image"):
        raise L2wgError(f"no finished build in {artifacts} (run: l2wg build KERNEL)")
    return data


def build_dir_for(kernel: Kernel, opts: BuildOptions, ws: Workspace) -> Path:
    tag = "-".join((kernel.name, kernel.arch, opts.variant, *opts.fragments,
                    "llvm" if opts.llvm else "gcc"))
    return opts.build_dir or ws.builds / tag


#: ``#1`` in ``uname -v`` for every l2wg build; `make bindeb-pkg` passes the
#: Debian revision as KBUILD_BUILD_VERSION, so packages.deb uses the same number.
BUILD_NUMBER = "1"


def build_identity(srctree: Path) -> list[str]:
    """KBUILD_BUILD_VERSION/TIMESTAMP fixed per tree commit, as reproducible builds do.

    Without them ``uname -v`` changes on every make, so a later ``make
    bindeb-pkg`` relinks and recompresses a vmlinux that was already built.
    """
    done = run_git(srctree, "log", "-1", "--format=%cd", "--date=rfc", check=False)
    date = done.output.strip() if done.returncode == 0 else ""
    stamp = [f"KBUILD_BUILD_TIMESTAMP={date}"] if date and "\n" not in date else []
    return [f"KBUILD_BUILD_VERSION={BUILD_NUMBER}", *stamp]


def make_command(srctree: Path, build_dir: Path, kernel: Kernel, opts: BuildOptions,
                 use_ccache: bool) -> list[str]:
    # LOCALVERSION set (empty) keeps setlocalversion from adding "+" for a
    # tree that is not at a release tag: the release is 6.12.117-l2wg.
    cmd = ["make", "-C", str(srctree), f"O={build_dir}", f"ARCH={kernel.arch}",
           f"-j{opts.jobs}", "LOCALVERSION=", *build_identity(srctree)]
    if opts.llvm:
        cmd.append("LLVM=1")
    if use_ccache:
        # Depend mode: ccache keys on the dependency list the compiler writes
        # anyway (kbuild's -Wp,-MMD) instead of running the preprocessor first
        # on every miss.  Measured on net/ipv4 and net/core of 6.1 here, cold:
        # 69 s without ccache, 104 s with it, 78 s in depend mode; hits alike.
        # (make passes command-line variables on to the compiler's environment.)
        cmd += [f"CC=ccache {'clang' if opts.llvm else 'gcc'}", "CCACHE_DEPEND=1"]
    return cmd + list(opts.make_vars)


def toolchain_versions(llvm: bool) -> dict[str, str]:
    tools = ["clang", "ld.lld"] if llvm else ["gcc", "ld"]
    versions = {}
    for tool in [*tools, "make"]:
        path = shutil.which(tool)
        if path:
            first = run([path, "--version"], check=False).output.splitlines()
            versions[tool] = first[0] if first else "?"
    return versions


def count_warnings(log_text: str) -> tuple[int, list[Warning_]]:
    """All compiler warnings, and those in drivers/net/wireguard (deduplicated)."""
    total = 0
    wireguard: dict[tuple, Warning_] = {}
    for line in log_text.splitlines():
        match = WARNING_RE.match(line)
        if not match:
            continue
        total += 1
        path = match.group("file")
        if "drivers/net/wireguard/" in path:
            key = (path, match.group("line"), match.group("text"))
            wireguard[key] = Warning_(path, int(match.group("line")), match.group("text"))
    return total, list(wireguard.values())


@contextmanager
def locked(build_dir: Path) -> Iterator[None]:
    """One build at a time per build directory."""
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".l2wg.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise L2wgError(f"another l2wg build is using {build_dir}") from None
        yield


#: The machine-wide kernel build lock (``flock /tmp/l2wg-kbuild.lock make ...`` by hand):
#: the per-patch builds of submit and rebase hold it, one kernel build at a time.
KBUILD_LOCK = Path("/tmp/l2wg-kbuild.lock")
#: What every per-patch build makes, besides the directories a patch touches.
BUILD_TARGET = "drivers/net/wireguard/"


@contextmanager
def kbuild_lock(path: Path | None = None) -> Iterator[None]:
    """The machine-wide kernel build lock (shared with `flock /tmp/l2wg-kbuild.lock make`):
    *path*, else KBUILD_LOCK as it is when called (the unit tests give each run its own)."""
    with open(path or KBUILD_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_targets(tree: Path, commit: str, log: Path) -> list[str]:
    """drivers/net/wireguard/ and the directory of every C file *commit* touches."""
    files = run_git(tree, "diff-tree", "--no-commit-id", "--name-only", "-r", commit,
                    log=log).output.split()
    dirs = {str(Path(f).parent) + "/" for f in files
            if f.endswith(".c") and (tree / f).is_file() and not f.startswith("tools/")}
    return sorted({BUILD_TARGET, *dirs})


def last_error(output: str) -> str:
    """The first compiler error of *output* (else its last line), for a one-line message."""
    lines = [ln.strip() for ln in output.splitlines() if "error" in ln.lower()]
    return (lines[0] if lines else (output.strip().splitlines() or ["?"])[-1])[:300]


class _Compiled:
    """Counts kbuild's 'CC' lines for the progress display."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.count = 0

    def __call__(self, line: str) -> None:
        words = line.split()
        if len(words) >= 2 and words[0] in ("CC", "LD", "AR", "AS", "HOSTCC", "CC [M]"):
            self.count += 1
            self.progress.update(f"{self.count} steps: {line.strip()}")


def prepare_tree(kernel: Kernel, project: Project, ws: Workspace, progress: Progress,
                 log: Path, lap: Callable[[str], None] = lambda step: None
                 ) -> tuple[trees.Tree, sources.Source]:
    """The kernel's work tree at pristine + the series: what every later stage starts from.

    *lap* is called after each step ("source", "tree", "series") for timing.
    """
    series = project.series()
    source = sources.fetch(kernel, ws, progress)
    lap("source")
    tree = trees.ensure_pristine(kernel, source, ws, progress)
    lap("tree")
    tree = trees.apply_series(tree, series.patches(kernel.line), series.digest(kernel.line),
                              log, progress)
    lap("series")
    return tree, source


def build(kernel: Kernel, project: Project, ws: Workspace, opts: BuildOptions,
          progress: Progress) -> BuildResult:
    """Source, tree, series, config and make for *kernel*; returns the metadata record."""
    durations: dict[str, float] = {}
    clock = time.monotonic()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.monotonic()
        durations[step] = round(now - clock, 1)
        clock = now

    series = project.series()
    patches = series.patches(kernel.line)
    fragments = [project.fragment(f, kernel.line) for f in
                 (*kernel.fragments, *VARIANT_FRAGMENTS.get(opts.variant, (opts.variant,)),
                  *opts.fragments)]
    build_dir = build_dir_for(kernel, opts, ws)
    out = opts.out or ws.artifacts(kernel.name, opts.variant)
    log = build_dir / "build.log"
    with locked(build_dir):
        log.write_text("")
        tree, source = prepare_tree(kernel, project, ws, progress, log, lap)
        use_ccache = opts.ccache and shutil.which("ccache") is not None
        stamp = stamps.Stamp(out / "build.stamp.json")
        key = build_key(kernel, opts, tree, fragments, build_dir, use_ccache)
        unchanged = None if opts.rebuild else stamp.valid(key)
        if unchanged is not None and unchanged.get("config_sha256") == store.sha256_file(
                build_dir / ".config"):
            progress.step(f"{kernel.name}: up to date (tree {tree.head or tree.pristine:.12}, "
                          f"config and toolchain unchanged; --rebuild to make anyway)")
            return BuildResult(**{**unchanged, "extra": {**unchanged.get("extra", {}),
                                                         "up_to_date": True}})
        stamp.clear()
        make = make_command(tree.path, build_dir, kernel, opts, use_ccache)
        # The config that cannot be made and make failing are the build failing.
        with failing_as(BuildError):
            config = configure(kernel, opts, tree, fragments, build_dir, make, log, progress)
            lap("config")
            target = opts.target or IMAGE.get(kernel.arch, "bzImage").rsplit("/", 1)[-1]
            progress.step(f"{kernel.name}: make -j{opts.jobs} {target} in {build_dir}")
            started = log.stat().st_size
            run([*make, target], log_path=log, on_line=_Compiled(progress),
                what=f"{kernel.name}: make {target}")
            modules = make_modules(kernel.name, build_dir, make, log, progress)
        progress.done()
        lap("build")
        total, wireguard = count_warnings(log.read_text(errors="replace")[started:])
    image = build_dir / IMAGE.get(kernel.arch, "arch/x86/boot/bzImage")
    result = BuildResult(
        kernel=kernel.name, version=tree.version, arch=kernel.arch, variant=opts.variant,
        source=source.ident, source_detail=source.detail, tree=str(tree.path),
        tree_head=tree.head or tree.pristine, series=[p.name for p in patches],
        series_digest=series.digest(kernel.line),
        overrides=[p.name for p in patches if p.override],
        fragments=[str(f) for f in fragments], config_sha256=config.sha256,
        config_symbols_y=config.symbols_y, config_implied=config.implied,
        build_dir=str(build_dir), out=str(out), image=image.name,
        toolchain=toolchain_versions(opts.llvm), durations=durations, warnings=total,
        wireguard_warnings=[asdict(w) for w in wireguard],
        reproduce=reproduce_commands(tree.path, build_dir, make, target, bool(modules)),
        ccache=use_ccache, built_modules=[m.name for m in modules])
    # File by file, metadata last: the run directories (boot/) and packages
    # (dkms/, deb/) that live beside them are kept.
    copies = [(image, image.name), (build_dir / ".config", "config"), (log, "build.log"),
              *((m, f"{BUILT_MODULES}/{m.name}") for m in modules)]
    for source_file, name in copies:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        with store.staging_file(out / name) as part:
            shutil.copy2(source_file, part)
    result.save(out)
    stamp.save(key, asdict(result), [out / image.name, out / "config", image,
                                     build_dir / ".config",
                                     *(out / BUILT_MODULES / m.name for m in modules)])
    return result


#: The artifacts' directory of the modules `make modules` built.
BUILT_MODULES = "built-modules"


def make_modules(name: str, build_dir: Path, make: list[str], log: Path,
                 progress: Progress) -> list[Path]:
    """``make modules`` when the config is modular, and the .ko files it built
    (modules.order), in order; nothing for a config without CONFIG_MODULES."""
    if "CONFIG_MODULES=y" not in (build_dir / ".config").read_text().splitlines():
        return []
    progress.step(f"{name}: make modules in {build_dir}")
    run([*make, "modules"], log_path=log, on_line=_Compiled(progress), what=f"{name}: make modules")
    order = build_dir / "modules.order"
    names = order.read_text().split() if order.is_file() else []
    modules = [build_dir / Path(name).with_suffix(".ko") for name in names]
    missing = [str(m) for m in modules if not m.is_file()]
    if missing:
        raise BuildError(f"{name}: modules.order names modules make did not build: "
                         f"{', '.join(missing)} (log: {log})")
    return modules


def configure(kernel: Kernel, opts: BuildOptions, tree: trees.Tree, fragments: list[Path],
              build_dir: Path, make: list[str], log: Path,
              progress: Progress) -> kconfig.ConfigResult:
    """make_config, or the .config it made last time if none of its inputs changed.

    Its inputs: the fragments, the tree's Kconfig files and base configs (by
    git blob), the toolchain (Kconfig asks the compiler) and kconfig.py.  An
    edit to a .c file in the series so skips tinyconfig, the solver and
    olddefconfig (about 12 s); a .config edited by hand is made again.
    """
    stamp = stamps.Stamp(build_dir / "l2wg-config.stamp.json")
    kconfig_files = run_git(tree.path, "ls-files", "-s", "--", "*Kconfig*",
                            "arch/*/configs/*", "kernel/configs/*", "scripts/kconfig/*",
                            check=False)
    key = stamps.digest({
        "kconfig_files": store.sha256_text(kconfig_files.output)
        if kconfig_files.returncode == 0 else None,
        "version": tree.version, "arch": kernel.arch, "llvm": opts.llvm,
        "fragments": stamps.files_digest(fragments), "toolchain": toolchain_versions(opts.llvm),
        "code": stamps.files_digest([Path(kconfig.__file__)])})
    done = None if opts.rebuild or kconfig_files.returncode != 0 else stamp.valid(key)
    config = build_dir / ".config"
    if done is not None and config.is_file() and done["sha256"] == store.sha256_file(config):
        progress.step(f"{kernel.name}: .config up to date (Kconfig files and fragments "
                      "unchanged)")
        return kconfig.ConfigResult(**{**done, "path": config})
    stamp.clear()
    progress.step(f"{kernel.name}: configuring ({', '.join(f.stem for f in fragments)})")
    made = kconfig.make_config(tree.path, build_dir, kernel.arch, tree.version, fragments,
                               make, log)
    stamp.save(key, {**asdict(made), "path": str(made.path)}, [made.path])
    return made


def build_key(kernel: Kernel, opts: BuildOptions, tree: trees.Tree, fragments: list[Path],
              build_dir: Path, use_ccache: bool) -> str:
    """Everything a build reads besides the tree's files: its up-to-date key."""
    return stamps.digest({
        "kernel": kernel.name, "arch": kernel.arch, "tree_head": tree.head or tree.pristine,
        "fragments": stamps.files_digest(fragments), "variant": opts.variant,
        "llvm": opts.llvm, "make_vars": list(opts.make_vars), "target": opts.target,
        "build_dir": str(build_dir), "toolchain": toolchain_versions(opts.llvm),
        "ccache": use_ccache, "identity": build_identity(tree.path),
        # The code that makes the config and writes the record: a record of
        # another version of it is not this build's (nor, maybe, its fields).
        "code": stamps.files_digest([Path(kconfig.__file__), Path(__file__)])})


def reproduce_commands(srctree: Path, build_dir: Path, make: list[str], target: str,
                       modules: bool = False) -> list[str]:
    """Shell commands that redo this build by hand (after the tree is prepared)."""
    make_line = " ".join(shlex.quote(w) for w in make)
    return [
        f"{make_line} tinyconfig",
        format_command([srctree / "scripts/kconfig/merge_config.sh", "-m", "-O", build_dir,
                        build_dir / ".config", build_dir / "l2wg-solved.config"]),
        f"{make_line} olddefconfig",
        f"{make_line} {target}",
        *([f"{make_line} modules"] if modules else []),
    ]


def summary(result: BuildResult) -> str:
    """The end-of-build report for the terminal."""
    steps = ", ".join(f"{k} {v:.0f}s" for k, v in result.durations.items())
    lines = [
        f"built {result.kernel} ({result.version}, {result.arch}, {result.variant})",
        f"  series:   {len(result.series)} patch(es)"
        + (f", overrides: {', '.join(result.overrides)}" if result.overrides else ""),
        f"  config:   {result.config_symbols_y} symbols =y"
        + (f", turned on for dependencies: {', '.join(result.config_implied)}"
           if result.config_implied else ""),
        f"  warnings: {result.warnings} in the build, "
        f"{len(result.wireguard_warnings)} in drivers/net/wireguard",
    ]
    lines += [f"    {w['file']}:{w['line']}: {w['text']}" for w in result.wireguard_warnings]
    lines += [f"  time:     {steps}", f"  artifacts: {result.out}"]
    return "\n".join(lines)
