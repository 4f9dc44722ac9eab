"""Release versions: ``MAJOR.MINOR.PATCH`` tagged ``vMAJOR.MINOR.PATCH``, and the bump rules.

``auto``: major when a config's schema changed (or a config was added or removed), minor when
rows changed, patch when only the card changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ocforge.errors import VersionError
from ocforge.manifest import ConfigEntry, ReleaseManifest

Bump = Literal["auto", "major", "minor", "patch"]
FIRST_VERSION = "1.0.0"
_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``X.Y.Z`` (a leading ``v`` is accepted)."""
        match = _VERSION.match(text.removeprefix("v"))
        if not match:
            raise VersionError(f"invalid version {text!r}: expected MAJOR.MINOR.PATCH, e.g. 1.2.0")
        return cls(*(int(g) for g in match.groups()))

    @property
    def tag(self) -> str:
        return f"v{self}"

    def bump(self, level: str) -> Version:
        if level == "major":
            return Version(self.major + 1, 0, 0)
        if level == "minor":
            return Version(self.major, self.minor + 1, 0)
        if level == "patch":
            return Version(self.major, self.minor, self.patch + 1)
        raise VersionError(f"unknown bump {level!r}: expected major, minor or patch")

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def version_tags(tags: list[str]) -> dict[Version, str]:
    """Release tags among ``tags`` (others, e.g. ``stable``, are ignored)."""
    out = {}
    for tag in tags:
        if tag.startswith("v"):
            try:
                out[Version.parse(tag)] = tag
            except VersionError:
                continue
    return out


def change_level(
    previous: ReleaseManifest | None, current: ReleaseManifest, card_changed: bool
) -> str | None:
    """``major``/``minor``/``patch`` for the difference between two manifests, ``None`` if none.

    Rows are compared through the shard files' sha256 (the layout is deterministic), schemas
    through each config's ``schema_sha256``.
    """
    if previous is None:
        return "major"
    prev_cfg, cur_cfg = previous.configs, current.configs
    if set(prev_cfg) != set(cur_cfg) or any(
        prev_cfg[c].schema_sha256 != cur_cfg[c].schema_sha256 for c in cur_cfg
    ):
        return "major"

    def files(cfgs: dict[str, ConfigEntry]) -> set[tuple[str, str]]:
        return {(f.path, f.sha256) for c in cfgs.values() for f in c.files()}

    if files(prev_cfg) != files(cur_cfg):
        return "minor"
    return "patch" if card_changed else None


def next_version(
    latest: Version | None, level: str | None, bump: Bump, explicit: str | None
) -> Version:
    """The version to release, given the latest tagged one and the detected change level."""
    if explicit:
        wanted = Version.parse(explicit)
        if latest is not None and wanted <= latest:
            raise VersionError(
                f"version {wanted} is not newer than the latest release {latest}; "
                "an existing version is never moved or overwritten"
            )
        return wanted
    if latest is None:
        return Version.parse(FIRST_VERSION)
    return latest.bump((level or "patch") if bump == "auto" else bump)
