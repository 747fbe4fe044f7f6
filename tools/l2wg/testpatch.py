"""Test-only peers: the DKMS module with one patch of ci/test-patches/ on top.

Some promises need a peer that behaves as no released l2wireguard does: a
later version with a newer wire format (future-format.patch), for instance.
Such a peer is the guest of the last ``l2wg dkms K`` (Debian's kernel with
the series' module) with its wireguard.ko rebuilt from the same DKMS source
plus the test patch, in the same chroot of the headers' suite.  ``l2wg
interop`` names it ``dkms:K+NAME`` (interop.find_guest).

Nothing here is ever packaged: the patched source and its module stay in
``$L2WG_HOME/out/K/dkms/test-NAME/``, beside the package's own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from . import chroot, packages, stamps, store
from .errors import BadInput, BuildError, L2wgError
from .kernels import DkmsHeaders, Kernel, Matrix
from .progress import Progress
from .runner import run
from .workspace import Workspace

TEST_PATCH_DIR = Path(__file__).resolve().parents[2] / "ci" / "test-patches"
#: The test patches use kernel-tree paths (a/drivers/net/wireguard/x.c); the
#: DKMS source is drivers/net/wireguard/ itself.
STRIP = len(packages.DRIVER_DIR.split("/")) + 1
#: Where the module's source is seen inside the chroot.
BUILD_DIR = "/l2wg-build"


@dataclass(frozen=True)
class TestPatch:
    name: str
    path: Path


def available() -> list[str]:
    return sorted(p.stem for p in TEST_PATCH_DIR.glob("*.patch"))


def find(name: str) -> TestPatch:
    """ci/test-patches/NAME.patch, or BadInput naming the ones there are."""
    path = TEST_PATCH_DIR / f"{name}.patch"
    if not path.is_file():
        raise BadInput(f"no test patch {name!r} in {TEST_PATCH_DIR} "
                       f"(there are: {', '.join(available()) or 'none'})")
    return TestPatch(name, path)


def test_dir(ws: Workspace, kernel: str, patch: TestPatch) -> Path:
    return packages.dkms_dir(ws, kernel) / f"test-{patch.name}"


def patched_guest(kernel: Kernel, patch: TestPatch, matrix: Matrix, ws: Workspace,
                  progress: Progress) -> Path:
    """The artifacts directory of *kernel*'s DKMS guest with *patch* in its module.

    Made again only when the DKMS build, the patch or this code changed.
    """
    made, proof = packages.last_guest(kernel.name, ws, f"test patch {patch.name}")
    out = test_dir(ws, kernel.name, patch)
    target = out / f"boot-{proof.release}"
    stamp = stamps.Stamp(out / "test.stamp.json")
    key = stamps.digest({"source": made.source.version, "release": proof.release,
                         "module": store.sha256_file(proof.module),
                         "patch": store.sha256_file(patch.path),
                         "code": stamps.files_digest([Path(__file__)])})
    if stamp.valid(key) is not None:
        progress.step(f"{kernel.name}: test module {patch.name} up to date")
        return target
    stamp.clear()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "test.log"
    log.write_text("")
    source = patched_source(made.source.path, patch, out / "src", log)
    module = build_module(source, proof.headers, matrix, ws, out, log, progress)
    lay_out(Path(proof.boot_artifacts), module, patch, target)
    stamp.save(key, {"artifacts": str(target)}, [module, target / "metadata.json"])
    return target


def patched_source(source: Path, patch: TestPatch, dest: Path, log: Path) -> Path:
    """A copy of the DKMS source with *patch* applied; BuildError if it does not apply."""
    if not (source / "Makefile").is_file():
        raise L2wgError(f"{source}: the DKMS source is gone (run: l2wg dkms again)")
    with store.staging_dir(dest) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        applied = run(["patch", f"-p{STRIP}", "--batch", "--forward", "--no-backup-if-mismatch",
                       "-d", tmp, "-i", patch.path], log_path=log, check=False,
                      what=f"patch {patch.name} onto the DKMS source")
        if applied.returncode != 0:
            raise BuildError(f"test patch {patch.path} does not apply to the DKMS source "
                             f"{source}", log)
    return dest


def build_module(source: Path, headers: DkmsHeaders, matrix: Matrix, ws: Workspace,
                 out: Path, log: Path, progress: Progress) -> Path:
    """wireguard.ko of *source* for *headers*' kernel, made in the chroot dkms used."""
    release = headers.release
    root = chroot.with_packages(
        chroot.ensure(packages.chroot_spec(headers, matrix.debian), ws, progress, log),
        [headers.package, f"linux-image-{release}"], ws, progress, log)
    session = chroot.Session(root, out / "chroot",
                             (chroot.Bind(source, BUILD_DIR, read_only=False),)).start()
    progress.step(f"{headers.suite} chroot: make M={BUILD_DIR} modules for {release}")
    made = session.run(["make", "-C", f"/usr/src/linux-headers-{release}", f"M={BUILD_DIR}",
                        "CONFIG_WIREGUARD=m", "modules"], log, check=False,
                       what=f"the patched {packages.MODULE} module for {release}")
    module = source / f"{packages.MODULE}.ko"
    if made.returncode != 0 or not module.is_file():
        raise BuildError(f"the patched module did not build for {release} (chroot writes "
                         f"kept in {session.path})", log)
    vermagic = run(["modinfo", "-F", "vermagic", module], log_path=log,
                   what="the patched module's vermagic").output.strip()
    if not vermagic.startswith(f"{release} "):
        raise BuildError(f"the patched module has vermagic '{vermagic}', not {release}", log)
    session.close()
    return module


def lay_out(base: Path, module: Path, patch: TestPatch, target: Path) -> None:
    """A copy of the DKMS guest *base* whose wireguard.ko is *module*."""
    metadata = store.read_json(base / "metadata.json")
    name = f"{packages.MODULE}.ko"
    if not metadata or name not in metadata.get("modules", []):
        raise L2wgError(f"{base}: no {name} among the guest's modules (run: l2wg dkms again)")
    with store.staging_dir(target) as tmp:
        shutil.copytree(base, tmp, dirs_exist_ok=True)
        shutil.copy2(module, tmp / "modules" / name)
        store.write_json(tmp / "metadata.json", {
            **metadata, "test_patch": patch.name,
            "source": f"{metadata.get('source', '')} + test patch {patch.path.name}"})
