"""Mailing-list submission of the series with b4: checked, reproducible, safe by default.

``submit()`` turns ``patches/series`` into the messages of one revision
(``[PATCH net-next vN k/n]``; v1 carries no "v1", as with git format-patch
and b4) and, only when asked, mails them::

    kernels.toml base -> work tree (pristine) -> submission clone (git clone --shared)
    -> b4 prep branch: cover commit (text, change-id and revision from the
       repository) + one commit per patch -> b4 prep --auto-to-cc (get_maintainer.pl)
    -> b4 send -o (the messages, for review) -> checks -> [b4 send --reflect | b4 send]

What the repository keeps (the cover letter, b4.json, the revisions sent)
is in ``patches/submission/`` (see ``l2wg.submission``).

The clone lives in the workspace (``submit/KERNEL``) and builds go to
``builds/KERNEL-ARCH-submit``: the shared work tree and its builds are never
touched.  A revision counts as sent only after ``--send``; until then every
run makes the same revision again.

Nothing can be mailed unless every patch is checkpatch.pl --strict clean
(no ERROR, no WARNING), builds on its own (an incremental make after each
commit) with no W=1 or sparse (C=2) warning in drivers/net/wireguard that
the base does not already have, carries a Signed-off-by, has the expected
subject prefix, the recipients come from the tree's get_maintainer.pl, and
the cover letter records the base-commit.  Everything but the real send works offline.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import build as builds
from . import kconfig, sources, store, tree as trees, userspace
from .errors import L2wgError
from .git import run_git
from .kernels import Kernel, Matrix, version_key
from .progress import Progress
from .project import Project
from .runner import Completed, run
from .series import Patch
from .submission import Record, SentRevision, Submission, cover_letter
from .build import BUILD_TARGET, KBUILD_LOCK, build_targets, kbuild_lock, last_error
from .workspace import Workspace

BASE_BRANCH = "l2wg-submit-base"
# b4 keeps its tracking data below this line of the cover commit (b4.ez.MAGIC_MARKER).
B4_MAGIC = "--- b4-submit-tracking ---"
# b4's default cover template with the range-diff against the previous revision added.
COVER_TEMPLATE = """\
${cover}

---
${shortlog}

${diffstat}
${range_diff}
---
base-commit: ${base_commit}
change-id: ${change_id}
${prerequisites}
Best regards,
-- \n${signature}
"""
# checkpatch warns about every added or removed file ("does MAINTAINERS need
# updating?"), even under a directory MAINTAINERS already covers, as
# drivers/net/wireguard/ is.  That warning is dropped only when get_maintainer.pl
# finds a maintainer for every such file.
PATH_CHANGES = "FILE_PATH_CHANGES"
CHECKPATCH_LINE = re.compile(r"^(?P<where>\S*): (?P<level>ERROR|WARNING|CHECK):(?P<type>\w+): "
                             r"(?P<text>.*)$")


# what the user asked for -------------------------------------------------

@dataclass(frozen=True)
class SubmitOptions:
    """What ``l2wg submit`` was asked to do."""

    base: str | None = None        # kernels.toml entry; default: newest offline line
    revision: int | None = None    # force vN; default: last sent revision + 1
    out: Path | None = None        # the messages; default: workspace out/submit/KERNEL-vN
    reflect: bool = False          # mail the series to yourself only
    send: bool = False             # mail it to the real recipients
    yes: bool = False              # do not ask before mailing (b4's own prompt)
    signoff: bool = False          # add your Signed-off-by to every patch (git am -s)
    build_check: bool = True       # build after every patch
    jobs: int = os.cpu_count() or 1
    kbuild_lock: Path = KBUILD_LOCK  # held for the build check: one kernel build at a time


# what comes out ------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    """One generated mail, as b4 wrote it."""

    path: Path
    subject: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    body: str

    def moved_to(self, directory: Path) -> "Message":
        return Message(directory / self.path.name, self.subject, self.to, self.cc, self.body)

    @property
    def is_cover(self) -> bool:
        return re.match(r"^\[PATCH [^]]* 0/\d+\]", self.subject) is not None


@dataclass
class SubmitResult:
    kernel: str
    revision: int
    base_commit: str
    out: Path
    messages: list[Message]
    checkpatch_checks: list[str]
    built: int
    range_diff: bool
    change_id: str = ""
    mailed: str | None = None      # "reflect" or "send"
    log: Path | None = None
    checker_skipped: str = ""      # why kbuild ran no sparse for C=2 ("": it ran)
    checker: str = ""              # which sparse ran, when not the host's


# the verb ------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """What will be submitted, settled before anything slow starts."""

    kernel: Kernel
    submission: Submission
    record: Record
    revision: int
    patches: list[Patch]
    cover: str
    identity: Identity
    signoff: bool
    out: Path
    log: Path


def submit(project: Project, ws: Workspace, opts: SubmitOptions,
           progress: Progress) -> SubmitResult:
    """Prepare revision N of the series, check it, write the messages and maybe mail them."""
    plan = plan_submission(project, ws, opts)
    source = sources.fetch(plan.kernel, ws, progress)
    tree = trees.ensure_pristine(plan.kernel, source, ws, progress)
    clone = prepare_clone(tree, ws.root / "submit" / plan.kernel.name, plan.log, progress)
    require_kernel_scripts(clone, plan.log)
    give_identity(clone, plan.identity, plan.log)
    range_diff = restore_previous(clone, plan, tree.pristine)
    progress.step(f"{plan.kernel.name}: b4 prep branch for v{plan.revision} "
                  f"({len(plan.patches)} patch(es))")
    commits = prep_branch(clone, tree.pristine, plan, range_diff)
    with store.staging_dir(plan.out) as staging:
        progress.step(f"{plan.kernel.name}: b4 send -o (messages for review), then the checks")
        messages = write_messages(clone, staging, plan.log)
        verify_messages(messages, plan, tree.pristine)
        checks = run_checkpatch(clone, messages, plan.log)
        skipped, checker = "", Checker()
        if opts.build_check:
            checker = choose_sparse(clone, project, ws, progress, plan.log)
            skipped = check_bisectable(clone, commits, plan.kernel, project, ws, opts, plan.log,
                                       progress, checker)
    result = SubmitResult(plan.kernel.name, plan.revision, tree.pristine, plan.out,
                          [m.moved_to(plan.out) for m in messages], checks,
                          len(commits) if opts.build_check else 0, range_diff,
                          plan.record.change_id, log=plan.log, checker_skipped=skipped,
                          checker=checker.description)
    if skipped and opts.send:
        raise L2wgError(f"not sent: the sparse gate (C=2) did not run: {skipped}", plan.log)
    if not plan.submission.record_path.is_file():
        plan.submission.save_record(plan.record)
    if opts.reflect or opts.send:
        result.mailed = mail(clone, opts, plan.log, progress)
    if opts.send:
        record_sent(clone, plan, tree.pristine)
    return result


def plan_submission(project: Project, ws: Workspace, opts: SubmitOptions) -> Plan:
    """Everything that can be refused cheaply is refused here, before any clone or build."""
    if opts.send and opts.reflect:
        raise L2wgError("choose one of --send and --reflect")
    if opts.send and not opts.build_check:
        raise L2wgError("--send needs the build check: drop --skip-build-check")
    matrix = project.matrix()
    kernel = matrix.get(opts.base or default_base(matrix))
    submission = Submission.of(project)
    record = submission.record()
    revision = opts.revision or record.next_revision
    log = ws.logs / f"submit-{kernel.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    cover = cover_letter(submission.cover_text(), record, revision, submission.cover_path)
    patches = project.series().patches(kernel.line)
    if not patches:
        raise L2wgError(f"{project.patches / 'series'} lists no patches: nothing to submit")
    identity = git_identity(project.root, log)
    if opts.reflect or opts.send:
        require_mail_transport(project.root, log)
    out = opts.out or ws.out / "submit" / f"{kernel.name}-v{revision}"
    refuse_foreign_out(out)
    return Plan(kernel, submission, record, revision, patches, cover, identity, opts.signoff,
                out, log)


def default_base(matrix: Matrix) -> str:
    """The newest kernel line of the matrix whose source is reachable offline."""
    offline = [k for k in matrix.kernels.values()
               if k.ci and k.version and not k.source.needs_network]
    if not offline:
        raise L2wgError(f"{matrix.path}: no kernel available offline to base the series on; "
                        "pass --base KERNEL")
    return max(offline, key=lambda k: version_key(k.line)).name


# git and b4 in the submission clone -------------------------------------------

def b4(repo: Path, *args: str, log: Path, offline: bool = True,
       config: dict[str, str] | None = None, **kwargs) -> Completed:
    """Run b4 in *repo*; *config* adds git config values for this command only."""
    env = {"GIT_CONFIG_COUNT": str(len(config))} if config else {}
    for i, (key, value) in enumerate((config or {}).items()):
        env |= {f"GIT_CONFIG_KEY_{i}": key, f"GIT_CONFIG_VALUE_{i}": value}
    argv = [b4_program(), *(["--offline-mode"] if offline else []), *args]
    return run(argv, cwd=repo, log_path=log, env=env, what=f"b4 {args[0]}", **kwargs)


def b4_program() -> str:
    beside = Path(sys.executable).with_name("b4")
    found = str(beside) if beside.exists() else shutil.which("b4")
    if not found:
        raise L2wgError("b4 is not installed (pip install b4, or use the project's venv)")
    return found


@dataclass(frozen=True)
class Identity:
    """Who sends: git's user.name and user.email, as in From: and Signed-off-by:."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def git_identity(repo: Path, log: Path) -> Identity:
    """The identity git uses in *repo*; refuse without one (b4 and Signed-off-by need it)."""
    values = {}
    for key in ("user.name", "user.email"):
        values[key] = run_git(repo, "config", key, log=log, check=False).output.strip()
        if not values[key]:
            raise L2wgError(f"no git identity: {key} is not set (git config --global {key} ...);"
                            " b4 needs it for From: and Signed-off-by:", log)
    return Identity(values["user.name"], values["user.email"])


def give_identity(clone: Path, identity: Identity, log: Path) -> None:
    """The clone sends as the checkout's identity (which may be set in its own config)."""
    run_git(clone, "config", "user.name", identity.name, log=log)
    run_git(clone, "config", "user.email", identity.email, log=log)


def prepare_clone(tree: trees.Tree, path: Path, log: Path, progress: Progress) -> Path:
    """A clone of the kernel work tree that l2wg alone uses, on the pristine commit.

    ``--shared`` borrows the work tree's objects, so the clone costs one
    checkout; the work tree itself (other builds use it) is never touched.
    A work tree imported again (new source) brings a new clone: the
    borrowed objects of the old one are gone.
    """
    marker = path / ".git" / "l2wg-pristine"
    if not marker.is_file() or marker.read_text().strip() != tree.pristine:
        progress.step(f"cloning {tree.path} for the submission (one checkout)")
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        run_git(None, "clone", "--quiet", "--shared", "--no-checkout", tree.path, path, log=log)
        run_git(path, "config", "gc.auto", "0", log=log)
        run_git(path, "checkout", "--quiet", "--force", "-B", BASE_BRANCH, tree.pristine, log=log)
        marker.write_text(tree.pristine + "\n")
    if (path / ".git" / "rebase-apply").exists():
        run_git(path, "am", "--abort", log=log, check=False)
    run_git(path, "checkout", "--quiet", "--force", "-B", BASE_BRANCH, tree.pristine, log=log)
    forget_prep_state(path, log)
    return path


def forget_prep_state(clone: Path, log: Path) -> None:
    """Drop b4 branches and sent/ tags of earlier runs: the repository is the truth."""
    refs = run_git(clone, "for-each-ref", "--format=%(refname)", "refs/heads/b4/",
               "refs/heads/l2wg-sent-*", "refs/tags/sent/", log=log).output.split()
    for ref in refs:
        run_git(clone, "update-ref", "-d", ref, log=log)
        if ref.startswith("refs/heads/"):
            run_git(clone, "config", "--remove-section", f"branch.{ref[11:]}", log=log, check=False)


def require_mail_transport(repo: Path, log: Path) -> None:
    """b4 mails through git's sendemail settings; without them it would try its web endpoint."""
    transport = [run_git(repo, "config", key, log=log, check=False).output.strip()
                 for key in ("sendemail.smtpserver", "sendemail.sendmailcmd")]
    if not any(transport):
        raise L2wgError("no mail transport: set sendemail.smtpServer (and smtpUser, "
                        "smtpEncryption ...) in git config; b4 send uses it", log)


def refuse_foreign_out(out: Path) -> None:
    """The output directory is replaced as a whole: only ever replace our own messages."""
    if out.exists() and (not out.is_dir() or any(p.suffix != ".eml" for p in out.iterdir())):
        raise L2wgError(f"{out} exists and holds more than messages (*.eml); l2wg replaces the "
                        "whole directory, so choose another -o DIR")


def require_kernel_scripts(clone: Path, log: Path) -> None:
    for name in ("scripts/checkpatch.pl", "scripts/get_maintainer.pl", "MAINTAINERS"):
        if not (clone / name).is_file():
            raise L2wgError(f"the kernel tree has no {name} ({clone}): cannot check the "
                            "patches or find their recipients", log)


def am(clone: Path, patches: list[Path], log: Path, signoff: bool = False) -> None:
    """Apply *patches* as commits; on failure abort and name the patch."""
    for patch in patches:
        done = run_git(clone, "am", "-3", "--no-gpg-sign", *(["--signoff"] if signoff else []),
                   str(patch), log=log, check=False)
        if done.returncode != 0:
            run_git(clone, "am", "--abort", log=log, check=False)
            raise L2wgError(f"patch {patch.name} does not apply ({patch})", log)


def restore_previous(clone: Path, plan: Plan, pristine: str) -> bool:
    """Tag the previous revision in the clone when the repository kept it; True if so."""
    previous = plan.record.sent.get(plan.revision - 1)
    if previous is None:
        return False
    return restore_sent(clone, plan.record, previous,
                        plan.submission.sent_patches(previous.revision), pristine, plan.log)


def restore_sent(clone: Path, record: Record, sent: SentRevision, patches_dir: Path,
                 pristine: str, log: Path) -> bool:
    """Tag revision K as b4 does after a send (sent/CHANGE-ID-vK), for the range-diff."""
    patches = sorted(patches_dir.glob("*.patch"))
    if not patches:
        return False
    known = run_git(clone, "cat-file", "-e", f"{sent.base_commit}^{{commit}}", log=log, check=False)
    base = sent.base_commit if known.returncode == 0 else pristine
    run_git(clone, "checkout", "--quiet", "-B", f"l2wg-sent-v{sent.revision}", base, log=log)
    am(clone, patches, log)
    message = (f"{record.name} v{sent.revision}, restored by l2wg from {patches_dir}\n\n"
               f"base-commit: {base}\nchange-id: {record.change_id}\n")
    run_git(clone, "tag", "--annotate", "--force", "--file=-",
        f"sent/{record.change_id}-v{sent.revision}", log=log, input=message)
    run_git(clone, "checkout", "--quiet", BASE_BRANCH, log=log)
    return True


def prep_branch(clone: Path, base: str, plan: Plan, range_diff: bool) -> list[str]:
    """b4 prep branch: the cover commit from the repository, then one commit per patch."""
    log, record = plan.log, plan.record
    b4(clone, "prep", "--new", record.name, "--fork-point", base, log=log)
    write_cover_commit(clone, plan)
    cover_commit = run_git(clone, "rev-parse", "HEAD", log=log).output.strip()
    am(clone, [p.path for p in plan.patches], log, plan.signoff)
    commits = run_git(clone, "rev-list", "--reverse", f"{cover_commit}..HEAD",
                  log=log).output.split()
    template = clone / ".git" / "l2wg-cover-template"
    template.write_text(COVER_TEMPLATE if range_diff else
                        COVER_TEMPLATE.replace("${range_diff}\n", ""))
    run_git(clone, "config", "b4.prep-cover-template", str(template), log=log)
    b4(clone, "prep", "--auto-to-cc", log=log)
    return commits


def write_cover_commit(clone: Path, plan: Plan) -> None:
    """Amend b4's new cover commit: our text, change-id, revision, prefixes and history."""
    tracking = read_tracking(clone, "HEAD", plan.log)
    series = tracking["series"]
    series.update({"change-id": plan.record.change_id, "revision": plan.revision,
                   "prefixes": list(plan.record.prefixes)})
    history = {f"v{s.revision}": [s.message_id] for s in plan.record.sent.values()}
    if history:
        series["history"] = history
    run_git(clone, "commit", "--quiet", "--amend", "--allow-empty", "--file=-", log=plan.log,
        input=f"{plan.cover}\n\n{B4_MAGIC}\n# This section is used internally by b4 prep "
              f"for tracking purposes.\n{json.dumps(tracking, indent=2)}")


def read_tracking(clone: Path, commit: str, log: Path) -> dict:
    """b4's tracking data in the cover commit (checked: b4 may change it)."""
    message = run_git(clone, "show", "-s", "--format=%B", commit, log=log).output
    if B4_MAGIC not in message:
        raise L2wgError(f"{clone}: {commit} is not a b4 cover commit", log)
    try:
        data = json.loads("{" + message.split(B4_MAGIC, 1)[1].split("{", 1)[1])
    except (ValueError, IndexError) as error:
        raise L2wgError(f"{clone}: {commit}: b4's tracking data is not JSON ({error})",
                        log) from None
    if not isinstance(data, dict) or not isinstance(data.get("series"), dict):
        raise L2wgError(f"{clone}: {commit}: b4's tracking data has no 'series' object "
                        "(has b4 changed its format?)", log)
    return data


def write_messages(clone: Path, out: Path, log: Path) -> list[Message]:
    """``b4 send -o``: every message of the series, as it would be mailed."""
    # A mail transport must be configured for b4 not to pick its web endpoint;
    # with -o nothing is ever handed to it.
    b4(clone, "send", "--no-sign", "-o", str(out), log=log,
       config={"sendemail.smtpserver": "/bin/false", "b4.prep-pre-flight-checks": "disable-all"})
    return [read_message(p) for p in sorted(out.glob("*.eml"))]


def read_message(path: Path) -> Message:
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    to = tuple(a for _, a in email.utils.getaddresses(msg.get_all("To", [])))
    cc = tuple(a for _, a in email.utils.getaddresses(msg.get_all("Cc", [])))
    return Message(path, " ".join(str(msg["Subject"]).split()), to, cc, msg.get_content())


# checks ------------------------------------------------------------------------

def verify_messages(messages: list[Message], plan: Plan, base: str) -> None:
    """Numbering, prefixes, recipients, Signed-off-by and base-commit of every message.

    A series of one patch goes out as one mail, the cover letter below its
    '---' (b4's and the kernel's convention); a longer one has a 0/n cover.
    """
    count, identity, log = len(plan.patches), plan.identity, plan.log
    first = 0 if count > 1 else 1
    if len(messages) != count + 1 - first:
        raise L2wgError(f"b4 wrote {len(messages)} message(s) for {count} patch(es)", log)
    for k, message in enumerate(messages, first):
        want = subject_prefix(plan.record.prefixes, plan.revision, k, count)
        if not message.subject.startswith(want):
            raise L2wgError(f"{message.path.name}: subject {message.subject!r} does not start "
                            f"with {want!r}", log)
        if not message.to:
            raise L2wgError(f"{message.path.name}: no To: (get_maintainer.pl found nobody "
                            "for the files it touches)", log)
        if k and not signed_off(message.body):
            raise L2wgError(f"{message.path.name}: no Signed-off-by: (patch {k}/{count}); "
                            "sign it off, or pass --signoff to add yours", log)
        if k and identity.email.lower() not in signers(message.body):
            raise L2wgError(f"{message.path.name}: no Signed-off-by: from you, the sender "
                            f"({identity}); pass --signoff to add it", log)
    if not re.search(rf"^base-commit: {base}$", messages[0].body, re.M):
        raise L2wgError(f"{messages[0].path.name}: the cover letter records no "
                        f"base-commit: {base}", log)


def subject_prefix(prefixes: list[str], revision: int, k: int, count: int) -> str:
    """'[PATCH net-next v2 1/3] ': v1 carries no version and one patch no counter."""
    words = ["PATCH", *prefixes, *([f"v{revision}"] if revision > 1 else []),
             *([f"{k}/{count}"] if count > 1 else [])]
    return f"[{' '.join(words)}] "


def signers(body: str) -> list[str]:
    return [email_of(s) for s in re.findall(r"^Signed-off-by: (.+)$", body, re.M)]


def signed_off(body: str) -> bool:
    return any("@" in s for s in signers(body))


def email_of(address: str) -> str:
    return email.utils.parseaddr(address)[1].lower()


def run_checkpatch(clone: Path, messages: list[Message], log: Path) -> list[str]:
    """checkpatch.pl --strict on every patch mail: refuse on any ERROR or WARNING.

    Returns the remarks that do not stop a submission: CHECKs, and helper
    scripts of checkpatch that could not run.
    """
    checks = []
    # checkpatch runs scripts/spdxcheck.py with the first python3 on PATH: make it
    # l2wg's own, which has spdxcheck's ply and GitPython, also when l2wg was
    # started as .venv/bin/l2wg without the virtualenv activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    for message in (m for m in messages if not m.is_cover):
        done = run(["perl", "scripts/checkpatch.pl", "--strict", "--terse", "--no-summary",
                    "--showfile", "--show-types", message.path],
                   cwd=clone, log_path=log, check=False, env={"PATH": path},
                   what="checkpatch.pl")
        found = [m for m in map(CHECKPATCH_LINE.match, done.output.splitlines()) if m]
        if done.returncode != 0 and not found:
            raise L2wgError(f"checkpatch.pl failed on {message.path.name} "
                            f"(exit {done.returncode})", log)
        bad = [m for m in found if m.group("level") != "CHECK"]
        if bad and all(m.group("type") == PATH_CHANGES for m in bad) and \
                all(maintained(clone, f, log) for f in added_or_removed(message.body)):
            bad = []
        if bad:
            first = bad[0]
            raise L2wgError(f"checkpatch.pl --strict: {len(bad)} error(s)/warning(s) in "
                            f"{message.path.name}, first: {first.group('where')}: "
                            f"{first.group('level')}: {first.group('text')}", log)
        checks += [f"{message.path.name}: {m.group(0)}" for m in found
                   if m.group("level") == "CHECK"]
        checks += helper_failures(message, done.output)
    return checks


def helper_failures(message: Message, output: str) -> list[str]:
    """checkpatch goes on when a helper script crashes (spdxcheck.py needs python3 ply)."""
    failed = re.findall(r"File \"\S*/(scripts/\S+)\".*?\n(\w+Error: [^\n]*)", output, re.S)
    return [f"{message.path.name}: NOTE: {script} did not run ({error}), its check was skipped"
            for script, error in dict(failed).items()]


def added_or_removed(body: str) -> list[str]:
    """The files a patch creates or deletes."""
    added = re.findall(r"^--- /dev/null\n\+\+\+ b/(\S+)$", body, re.M)
    removed = re.findall(r"^--- a/(\S+)\n\+\+\+ /dev/null$", body, re.M)
    return added + removed


def maintained(clone: Path, path: str, log: Path) -> bool:
    """Whether a MAINTAINERS entry other than THE REST names a maintainer for *path*."""
    done = run(["perl", "scripts/get_maintainer.pl", "--nogit", "--nogit-fallback",
                "--nogit-chief-penguins", "--norolestats", "--nol", "-f", path],
               cwd=clone, log_path=log, check=False, what="get_maintainer.pl")
    return done.returncode == 0 and "@" in done.output


# The kernel's rules for a series: no new compiler warnings with W=1, no new
# sparse warnings (C=2 runs sparse on every file of a target, rebuilt or not).
WARNING_VARS = ("W=1", "C=2")


@dataclass(frozen=True)
class Checker:
    """The sparse kbuild runs for C=2: the host's (no make variable), or another's."""

    make_vars: tuple[str, ...] = ()
    description: str = ""       # "" for the host's own


def choose_sparse(clone: Path, project: Project, ws: Workspace, progress: Progress,
                  log: Path) -> Checker:
    """The host's sparse when the tree's scripts/checker-valid.sh accepts it, else
    kernels.toml's ``[tools] sparse`` suite's, when that one is accepted.  When
    neither is, the host's: kbuild then says it runs none, and the gate is
    reported SKIPPED (:func:`checker_not_run`)."""
    if checker_valid(clone, "sparse", log):
        return Checker()
    suite = project.matrix().tools.sparse_suite
    if suite is None:
        return Checker()
    apt = sources.debian_apt(suite, project.matrix().debian, ws)
    program = userspace.suite_sparse(apt, ws, progress, log)
    if not checker_valid(clone, str(program.path), log):
        progress.step(f"{program.description} is not accepted by this kernel's "
                      "scripts/checker-valid.sh either")
        return Checker()
    progress.step(f"sparse for C=2: {program.description} (this kernel's "
                  "scripts/checker-valid.sh refuses the host's)")
    return Checker((f"CHECK={program.path}",), program.description)


def checker_valid(clone: Path, program: str, log: Path) -> bool:
    """Whether the kernel's own test (scripts/checker-valid.sh, 6.12 on) accepts
    *program* as its sparse; kernels without the script accept any."""
    script = clone / "scripts" / "checker-valid.sh"
    if not script.is_file():
        return shutil.which(program) is not None
    done = run(["sh", str(script), program], cwd=clone, log_path=log, check=False,
               what="scripts/checker-valid.sh")
    return done.returncode == 0 and done.output.strip().endswith("1")


def check_bisectable(clone: Path, commits: list[str], kernel: Kernel, project: Project,
                     ws: Workspace, opts: SubmitOptions, log: Path, progress: Progress,
                     checker: Checker = Checker()) -> str:
    """Configure once at the tip of the series, take the base's W=1/sparse warnings
    in drivers/net/wireguard, then build after every commit: none may add one.
    Returns why kbuild ran no sparse, if it did not ("" when it ran)."""
    build_dir = ws.builds / f"{kernel.name}-{kernel.arch}-submit"
    make = builds.make_command(clone, build_dir, kernel,
                               builds.BuildOptions(jobs=opts.jobs,
                                                   make_vars=WARNING_VARS + checker.make_vars),
                               shutil.which("ccache") is not None)
    fragments = [project.fragment(f, kernel.line) for f in kernel.fragments]
    tip_config = build_dir / "l2wg-series-tip.config"
    branch = run_git(clone, "rev-parse", "--abbrev-ref", "HEAD", log=log).output.strip()
    progress.step(f"{kernel.name}: waiting for the kernel build lock {opts.kbuild_lock}")
    try:
        # One build job: the lock is held from the config to the last commit.
        with builds.locked(build_dir), kbuild_lock(opts.kbuild_lock):
            progress.step(f"{kernel.name}: configuring {build_dir} at the tip of the series")
            kconfig.make_config(clone, build_dir, kernel.arch, trees.makefile_version(clone),
                                fragments, make, log)
            shutil.copy2(build_dir / ".config", tip_config)
            progress.step(f"{kernel.name}: the base's warnings: make {' '.join(WARNING_VARS)} "
                          f"{BUILD_TARGET}")
            base = SeriesBuild(clone, make, build_dir, tip_config, log)
            baseline = base.warnings_at(f"{commits[0]}~1", [BUILD_TARGET], "the base")
            for k, commit in enumerate(commits, 1):
                build_commit(base, commit, k, len(commits), baseline, progress)
            return base.checker_skipped[0] if base.checker_skipped else ""
    finally:
        run_git(clone, "checkout", "--quiet", "--force", branch, log=log, check=False)


@dataclass(frozen=True)
class SeriesBuild:
    """The submit clone's build directory, configured once at the tip of the series."""

    clone: Path
    make: list[str]
    build_dir: Path
    tip_config: Path
    log: Path
    checker_skipped: list[str] = field(default_factory=list)

    def warnings_at(self, commit: str, targets: list[str], what: str) -> Counter:
        """Check out *commit*, make *targets*; its drivers/net/wireguard warnings,
        counted by (file name, text) so that lines moved by a patch still match."""
        run_git(self.clone, "checkout", "--quiet", "--force", "--detach", commit, log=self.log)
        shutil.copy2(self.tip_config, self.build_dir / ".config")
        run([*self.make, "olddefconfig"], log_path=self.log, what="make olddefconfig")
        started = self.log.stat().st_size
        done = run([*self.make, *targets], log_path=self.log, check=False, what="make")
        if done.returncode != 0:
            raise L2wgError(f"{what} does not build: make {' '.join(targets)} failed: "
                            f"{last_error(done.output)}", self.log)
        output = self.log.read_bytes()[started:].decode(errors="replace")
        skipped = checker_not_run(output)
        if skipped and skipped not in self.checker_skipped:
            self.checker_skipped.append(skipped)
        _, warnings = builds.count_warnings(output)
        return Counter((Path(w.file).name, w.text) for w in warnings)


#: kbuild's own word that C=1/C=2 will run no checker (a sparse older than the
#: kernel needs: 7.x wants __typeof_unqual__, which bookworm's 0.6.4 lacks).
CHECKER_NOT_RUN_RE = re.compile(r"C=\d specified, but (\S+) is not available or not up to date")


def checker_not_run(output: str) -> str:
    """Why make ran no sparse, from its output ("" if nothing says so)."""
    found = CHECKER_NOT_RUN_RE.search(output)
    if not found:
        return ""
    return (f"kbuild says {found.group(1)} is not available or not up to date for this "
            "kernel (scripts/checker-valid.sh)")


def build_commit(base: SeriesBuild, commit: str, k: int, n: int, baseline: Counter,
                 progress: Progress) -> None:
    """Make the directories the k-th commit touches (and WireGuard's): it must build
    and add no W=1 or sparse warning in drivers/net/wireguard to the base's."""
    subject = run_git(base.clone, "show", "-s", "--format=%s", commit, log=base.log).output.strip()
    targets = build_targets(base.clone, commit, base.log)
    progress.step(f"building patch {k}/{n} ({subject}): make {' '.join(WARNING_VARS)} "
                  f"{' '.join(targets)}")
    new = base.warnings_at(commit, targets, f"patch {k}/{n} ({subject})") - baseline
    if new:
        (file, text), _ = next(iter(new.items()))
        raise L2wgError(f"patch {k}/{n} ({subject}) adds {sum(new.values())} warning(s) "
                        f"({' '.join(WARNING_VARS)}) in drivers/net/wireguard, first: "
                        f"{file}: {text}", base.log)


# mailing -------------------------------------------------------------------------

def mail(clone: Path, opts: SubmitOptions, log: Path, progress: Progress) -> str:
    """``b4 send`` for real (or ``--reflect``); needs a mail transport in git config."""
    mode = "reflect" if opts.reflect else "send"
    progress.step(f"b4 send{' --reflect' if opts.reflect else ''}: mailing the series")
    args = ["send", "--no-sign", *(["--reflect"] if opts.reflect else [])]
    config = {"b4.prep-pre-flight-checks": "disable-all"}
    if opts.yes:
        b4(clone, *args, log=log, offline=False, config=config, input="\n")
    else:
        b4(clone, *args, log=log, offline=False, config=config, passthrough=True)
    return mode


def record_sent(clone: Path, plan: Plan, base: str) -> None:
    """After a real send: keep vN's patches and message-id in the repository.

    b4 has rewritten the cover commit by now (it records the message-id and
    bumps the revision), so the series is found again from the base.
    """
    log, revision = plan.log, plan.revision
    cover, *_ = run_git(clone, "rev-list", "--reverse", f"{base}..HEAD", log=log).output.split()
    history = read_tracking(clone, cover, log)["series"].get("history")
    msgids = history.get(f"v{revision}") if isinstance(history, dict) else None
    if not (isinstance(msgids, list) and msgids and all(isinstance(m, str) for m in msgids)):
        msgids = ["unknown"]
    with store.staging_dir(plan.submission.sent_patches(revision)) as tmp:
        run_git(clone, "format-patch", "--quiet", "--zero-commit", "--no-signature",
            f"--base={base}", "-o", str(tmp), f"{cover}..HEAD", log=log)
    plan.record.sent[revision] = SentRevision(
        revision, plan.kernel.name, base, msgids[-1],
        datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    plan.submission.save_record(plan.record)


def summary(result: SubmitResult) -> str:
    """The end-of-run report: what was written, to whom, and what happened."""
    first = result.messages[0]
    built = f"each of {result.built} patch(es) built on its own, no new " \
        f"{'/'.join(WARNING_VARS)} warning in drivers/net/wireguard" if result.built else \
        "not checked (--skip-build-check)"
    if result.built and result.checker_skipped:
        built = f"each of {result.built} patch(es) built on its own, no new W=1 warning in " \
            f"drivers/net/wireguard; sparse (C=2) SKIPPED: {result.checker_skipped}"
    elif result.built and result.checker:
        built += f" (sparse: {result.checker})"
    range_diff = f"against v{result.revision - 1}" if result.range_diff else \
        "none (no earlier revision recorded)"
    mailed = {"send": "MAILED to the recipients above; recorded in patches/submission/",
              "reflect": "mailed to yourself only (--reflect)"}.get(
        result.mailed or "", "nothing mailed: review the messages, then --reflect or --send")
    return "\n".join([
        f"{result.kernel}: v{result.revision}, {len(result.messages)} message(s) on "
        f"base-commit {result.base_commit[:12]}, change-id {result.change_id}",
        *(f"  {m.path.name}: {m.subject}" for m in result.messages),
        f"  To: {', '.join(first.to)}", f"  Cc: {', '.join(first.cc)}",
        f"  checkpatch --strict: no error, no warning; {len(result.checkpatch_checks)} "
        "remark(s)", *(f"    {remark}" for remark in result.checkpatch_checks),
        f"  build: {built}", f"  range-diff: {range_diff}", f"  messages: {result.out}",
        f"  {mailed}"])
