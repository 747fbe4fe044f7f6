"""OpenPGP signatures, checked with gpgv against a keyring the checkout ships.

kernel.org signs the checksum list of each release directory
(``v6.x/sha256sums.asc``) as a cleartext message; a tarball entry with
``checksums = "...sha256sums.asc"`` only takes a digest from that list once
gpgv has verified its signature against the source's ``keyring`` (default
``ci/keys/kernel.org.gpg``, see ci/keys/README.md).  Only the text the
signature covers is returned: lines outside the signed part, which anyone on
the way could add, are never read.

gpgv runs through :func:`l2wg.runner.run` with its own empty home directory,
so neither the user's keyrings nor their trust settings take part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import FetchError
from .runner import last_error_line, run


@dataclass(frozen=True)
class Verified:
    """What a good signature covers, and who made it."""

    #: The signed text only (dash-escaping undone), as gpgv writes it out.
    text: str
    #: The primary key fingerprint of the signer (gpgv's VALIDSIG).
    fingerprint: str
    #: The signer's user id as the keyring has it.
    signer: str


def verify_cleartext(signed: Path, keyring: Path, scratch: Path, log: Path,
                     what: str) -> Verified:
    """Check the cleartext-signed *signed* against *keyring*; its signed text and signer.

    *scratch* is an empty directory for gpgv's home and output.  *what* names
    the file in errors (e.g. its URL).  A missing, bad, unknown, expired or
    revoked signature raises FetchError in one line.
    """
    home = scratch / "gnupg"
    home.mkdir(mode=0o700)
    out = scratch / "signed.txt"
    done = run(["gpgv", "--homedir", home, "--status-fd", "1", "--keyring", keyring.resolve(),
                "--output", out, "--", signed], log_path=log, check=False,
               what=f"gpgv (the signature of {what})")
    status = _status(done.output)
    valid = status.get("VALIDSIG", [])
    good = status.get("GOODSIG", [])
    if done.returncode == 0 and valid and good and not _problem(status, keyring):
        fingerprint = valid[-1] if len(valid) >= 10 else valid[0]
        return Verified(out.read_text(errors="replace"), fingerprint.upper(),
                        " ".join(good[1:]))
    reason = _problem(status, keyring) or last_error_line(done.output) or \
        f"gpgv exit {done.returncode}"
    raise FetchError(f"{what}: signature not accepted: {reason}", log)


def _status(output: str) -> dict[str, list[str]]:
    """gpgv's --status-fd lines, keyword -> its arguments (the last of each keyword)."""
    status: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith("[GNUPG:] "):
            words = line[len("[GNUPG:] "):].split()
            if words:
                status[words[0]] = words[1:]
    return status


def _problem(status: dict[str, list[str]], keyring: Path) -> str | None:
    """Why the status lines do not amount to one good signature by a key of *keyring*."""
    def key(words: list[str]) -> str:
        return words[0] if words else "?"

    def who(words: list[str]) -> str:
        return " ".join(words[1:]) or key(words)

    if "BADSIG" in status:
        return (f"BAD signature by {who(status['BADSIG'])} (key {key(status['BADSIG'])}): "
                "the file is not what was signed")
    if "REVKEYSIG" in status:
        return f"made by the revoked key {key(status['REVKEYSIG'])} ({who(status['REVKEYSIG'])})"
    if "EXPKEYSIG" in status:
        return f"made by the expired key {key(status['EXPKEYSIG'])} ({who(status['EXPKEYSIG'])})"
    if "EXPSIG" in status:
        return f"the signature by {who(status['EXPSIG'])} has expired"
    if "NO_PUBKEY" in status or "ERRSIG" in status:
        unknown = key(status.get("NO_PUBKEY") or status["ERRSIG"])
        return f"signed by key {unknown}, which is not in {keyring}"
    if "NEWSIG" not in status:
        return "it is not signed (no OpenPGP signature in it)"
    return None
