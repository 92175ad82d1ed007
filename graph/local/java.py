"""Find the JDKs installed on this machine and pick one that can run a Neo4j version."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from schema.errors import JavaNotFound
from schema.settings import DEFAULT_NEO4J_VERSION, LTS_NEO4J_VERSION

__all__ = ["Jdk", "choose_version", "find_jdks", "java_range", "neo4j_version_key", "pick_jdk"]

_SEARCH_ROOTS = (
    "/usr/lib/jvm",
    "/usr/java",
    "/opt/java",
    "/opt/jdk",
    "/Library/Java/JavaVirtualMachines",
)


@dataclass(frozen=True, order=True)
class Jdk:
    major: int
    version: str
    home: Path

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def neo4j_version_key(version: str) -> tuple[int, int, int]:
    """``"2026.08.1"`` -> (2026, 8, 1); ``"5.26.30"`` -> (5, 26, 30)."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:3]]
    major, minor, patch = ([*parts, 0, 0, 0])[:3]
    return (major, minor, patch)


def java_range(neo4j_version: str) -> tuple[int, int]:
    """Supported Java majors (inclusive) for a Neo4j version."""
    key = neo4j_version_key(neo4j_version)
    if key >= (2025, 10, 0):
        return (21, 25)
    if key >= (2025, 1, 0):
        return (21, 21)
    return (17, 21)  # 5.x LTS


def _read_release(home: Path) -> str | None:
    release = home / "release"
    if release.is_file():
        match = re.search(r'^JAVA_VERSION="([^"]+)"', release.read_text(errors="replace"), re.M)
        if match:
            return match.group(1)
    return None


def _probe(home: Path) -> Jdk | None:
    java = home / "bin" / "java"
    if not os.access(java, os.X_OK):
        return None
    version = _read_release(home)
    if version is None:
        try:
            out = subprocess.run(
                [str(java), "-version"], capture_output=True, text=True, timeout=20
            ).stderr
        except (OSError, subprocess.SubprocessError):
            return None
        match = re.search(r'version "([^"]+)"', out)
        if not match:
            return None
        version = match.group(1)
    major = (
        int(version.split(".")[0]) if not version.startswith("1.") else int(version.split(".")[1])
    )
    return Jdk(major=major, version=version, home=home.resolve())


def find_jdks(extra: Path | None = None) -> list[Jdk]:
    """Every distinct JDK found: the configured one, $JAVA_HOME, well-known roots, PATH."""
    candidates: list[Path] = []
    if extra:
        candidates.append(extra)
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    for root in _SEARCH_ROOTS:
        base = Path(root)
        if base.is_dir():
            for child in sorted(base.iterdir()):
                candidates += [child, child / "Contents" / "Home"]
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    found: dict[Path, Jdk] = {}
    for home in candidates:
        jdk = _probe(home)
        if jdk and jdk.home not in found:
            found[jdk.home] = jdk
    return sorted(found.values(), reverse=True)


def pick_jdk(neo4j_version: str, jdks: Sequence[Jdk], *, prefer: Path | None = None) -> Jdk:
    """The preferred JDK (``PERSONA_JAVA_HOME``) if it can run the version, else the newest JDK
    within the version's supported range."""
    low, high = java_range(neo4j_version)
    usable = [j for j in jdks if low <= j.major <= high]
    if prefer is not None:
        wanted = prefer.resolve()
        for jdk in usable:
            if jdk.home == wanted:
                return jdk
    if usable:
        return max(usable)
    seen = ", ".join(f"Java {j.major} at {j.home}" for j in jdks) or "none"
    raise JavaNotFound(
        f"Neo4j {neo4j_version} needs Java {low}"
        + (f"-{high}" if high != low else "")
        + f"; JDKs found: {seen}",
        hint=(
            f"install a JDK {high} (Debian/Ubuntu: `apt-get install openjdk-{high}-jdk-headless`, "
            f"or Temurin {high} from adoptium.net) and/or set PERSONA_JAVA_HOME to it"
        ),
    )


def choose_version(
    configured: str,
    jdks: Sequence[Jdk],
    *,
    existing: str | None = None,
    prefer: Path | None = None,
    home: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[str, Jdk]:
    """Which Neo4j version to run, and on which JDK (pure: the installed JDKs are given).

    - a home that already holds a store keeps the version that wrote it (a store cannot be
      opened by an older server, and is not silently upgraded);
    - the default version falls back to the LTS line (Java 17-21) when no installed JDK is in
      the default's supported range but one is in the LTS range;
    - otherwise the configured version runs on ``prefer`` (``PERSONA_JAVA_HOME``) when that
      JDK is in the version's range, else on the newest JDK in its range.

    Raises :class:`JavaNotFound`, with an install hint, when no installed JDK fits.
    """
    say = progress or (lambda _msg: None)
    found = list(jdks)
    if existing:
        if configured not in (existing, DEFAULT_NEO4J_VERSION):
            where = f" (delete {home} to start over with {configured})" if home else ""
            say(f"this home holds a Neo4j {existing} store; keeping {existing}{where}")
        return existing, pick_jdk(existing, found, prefer=prefer)
    if configured != DEFAULT_NEO4J_VERSION:
        return configured, pick_jdk(configured, found, prefer=prefer)
    low, high = java_range(configured)
    lts_low, lts_high = java_range(LTS_NEO4J_VERSION)
    if any(low <= j.major <= high for j in found):
        return configured, pick_jdk(configured, found, prefer=prefer)
    if any(lts_low <= j.major <= lts_high for j in found):
        say(
            f"no Java {low}-{high} found; falling back to the Neo4j {LTS_NEO4J_VERSION} LTS "
            f"line, which runs on Java {lts_low}-{lts_high}"
        )
        return LTS_NEO4J_VERSION, pick_jdk(LTS_NEO4J_VERSION, found, prefer=prefer)
    seen = ", ".join(f"Java {j.major} at {j.home}" for j in found) or "none"
    raise JavaNotFound(
        f"Neo4j {configured} needs Java {low}-{high} (or Java {lts_low}-{lts_high} for the "
        f"{LTS_NEO4J_VERSION} LTS line); JDKs found: {seen}",
        hint=(
            f"install a JDK {high} (Debian/Ubuntu: `apt-get install openjdk-{high}-jdk-headless`, "
            f"or Temurin {high} from adoptium.net), or a JDK {lts_low} "
            f"(`apt-get install openjdk-{lts_low}-jdk-headless`) to run the LTS line; set "
            "PERSONA_JAVA_HOME if it is installed somewhere unusual"
        ),
    )
