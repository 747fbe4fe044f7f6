"""Up-to-date stamps: reuse only on the same inputs and with every output present."""

from pathlib import Path

from l2wg import stamps


def test_same_inputs_same_digest_any_change_differs():
    base = {"tree_head": "abc", "fragments": ["x"], "llvm": False}
    assert stamps.digest(base) == stamps.digest(dict(reversed(list(base.items()))))
    assert stamps.digest(base) != stamps.digest({**base, "tree_head": "abd"})
    assert stamps.digest(base) != stamps.digest({**base, "llvm": True})


def test_files_digest_follows_content_not_mtime(tmp_path: Path):
    f = tmp_path / "base.config"
    f.write_text("CONFIG_WIREGUARD=y\n")
    first = stamps.files_digest([f])
    f.write_text("CONFIG_WIREGUARD=y\n")
    assert stamps.files_digest([f]) == first
    f.write_text("CONFIG_WIREGUARD=m\n")
    assert stamps.files_digest([f]) != first
    assert stamps.files_digest([tmp_path / "gone"]) != stamps.files_digest([f])


def test_valid_needs_the_key_and_every_output(tmp_path: Path):
    out = tmp_path / "bzImage"
    out.write_bytes(b"kernel")
    stamp = stamps.Stamp(tmp_path / "build.stamp.json")
    assert stamp.valid("k1") is None                      # never saved
    stamp.save("k1", {"version": "6.12.117"}, [out])
    assert stamp.valid("k1") == {"version": "6.12.117"}
    assert stamp.valid("k2") is None                      # inputs changed
    out.unlink()
    assert stamp.valid("k1") is None                      # output gone
    out.write_bytes(b"kernel")
    stamp.clear()
    assert stamp.valid("k1") is None
