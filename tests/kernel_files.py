"""Files of the real Linux 6.12 source that integration tests run but do not keep.

tests/test_submit.py's integration tests (``[kernel]``) run the kernel's own
checkpatch.pl, get_maintainer.pl and merge_config.sh on a synthetic tree
(its unit tests run stand-ins: tests/data/submit/stand-in).  Rather than
carrying copies of them, they are taken from the Debian linux-source-6.12
package that kernels.toml names -- the same verified, cached source the
builds use -- and extracted once per source into the workspace
($L2WG_HOME/test-files/).
"""

from __future__ import annotations

from pathlib import Path

from l2wg import sources, store
from l2wg.progress import silent
from l2wg.project import Project
from l2wg.runner import run
from l2wg.workspace import Workspace

KERNEL = "6.12"
FILES = (
    "COPYING",
    "scripts/checkpatch.pl",            # checkpatch itself
    "scripts/spelling.txt",             # read by checkpatch (typos)
    "scripts/const_structs.checkpatch",  # read by checkpatch (structs that should be const)
    "scripts/get_maintainer.pl",        # the recipients (b4 prep --auto-to-cc runs it)
    "scripts/kconfig/merge_config.sh",  # l2wg's config step
    "scripts/spdxcheck.py",             # checkpatch's SPDX licence check ...
    "scripts/spdxexclude",
    "LICENSES",                         # ... against the licences the kernel knows
)


def kernel_files(project: Project, ws: Workspace) -> Path:
    """A directory holding FILES, as they are in the kernel's verified source archive."""
    source = sources.fetch(project.matrix().get(KERNEL), ws, silent())
    if source.kind != "archive":
        raise AssertionError(f"kernels.toml {KERNEL}: expected an archive source, not {source.kind}")
    dest = ws.root / "test-files" / store.sha256_text(source.ident)[:16]
    if all((dest / name).exists() for name in FILES):
        return dest
    with store.staging_dir(dest) as tmp:
        run(["tar", "-xf", source.path, "-C", tmp, "--strip-components=1",
             "--wildcards", "--no-wildcards-match-slash",
             *(f"*/{name}" for name in FILES)],
            log_path=ws.logs / "test-files.log", what=f"tar -x {KERNEL}'s scripts")
    return dest
