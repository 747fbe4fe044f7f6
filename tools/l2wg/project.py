"""The project checkout: where kernels.toml, patches/ and ci/ are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput
from .kernels import Matrix, load_matrix
from .series import Series, load_series


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> "Project":
        """The checkout containing *start* (default: cwd), else the one this package is in."""
        candidates = [start or Path.cwd()]
        candidates.append(Path(__file__).resolve().parents[2])
        for base in candidates:
            for directory in (base.resolve(), *base.resolve().parents):
                if (directory / "kernels.toml").is_file() and (directory / "ci").is_dir():
                    return cls(directory)
        raise BadInput("no l2wg checkout found (a directory with kernels.toml and ci/); "
                        "run from the checkout or pass --project DIR")

    @property
    def kernels_toml(self) -> Path:
        return self.root / "kernels.toml"

    @property
    def patches(self) -> Path:
        return self.root / "patches"

    @property
    def fragments(self) -> Path:
        return self.root / "ci" / "kconfig"

    @property
    def checks(self) -> Path:
        return self.root / "ci" / "checks"

    def matrix(self) -> Matrix:
        return load_matrix(self.kernels_toml, self.fragments)

    def series(self) -> Series:
        return load_series(self.patches)

    def fragment(self, name: str, line: str | None = None) -> Path:
        """ci/kconfig/NAME.config, or on kernel *line* its override
        ci/kconfig/LINE/NAME.config when there is one: an option that a line
        names otherwise, as patches/LINE/ holds the patches a line needs in
        its own version."""
        override = self.fragments / line / f"{name}.config" if line else None
        if override is not None and override.is_file():
            return override
        path = self.fragments / f"{name}.config"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in self.fragments.glob("*.config")))
            raise BadInput(f"no config fragment '{name}' in {self.fragments} (have: {known})")
        return path
