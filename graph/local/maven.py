"""Resolve a Neo4j Community server (and single jars: the ONNX embedders) from Maven Central
into the user's cache.

The artifact ``org.neo4j:neo4j:<version>`` depends on everything the server needs (Bolt,
Cypher, Lucene indexes, the entry point), so its runtime dependencies ARE the server's lib/.
Maven resolves them (``dependency:copy-dependencies`` on a generated pom) from Maven Central
only; the result is cached per version and reused by every PersonaGraph home.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from schema.errors import MavenNotFound, ServerError

__all__ = [
    "declares_setting",
    "distribution_dir",
    "ensure_artifact",
    "ensure_distribution",
    "entry_point",
]

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.personagraph</groupId>
  <artifactId>neo4j-server-resolver</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <repositories>
    <repository><id>central</id><url>https://repo.maven.apache.org/maven2</url></repository>
  </repositories>
  <dependencies>
    <dependency><groupId>org.neo4j</groupId><artifactId>neo4j</artifactId><version>{version}</version></dependency>
  </dependencies>
</project>
"""

_MARKER = ".complete"


def distribution_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir / "neo4j" / version


_INSTALL_MAVEN = (
    "install Maven (Debian/Ubuntu: `apt-get install maven`; macOS: `brew install maven`)"
)


def _mvn(what: str, otherwise: str) -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenNotFound(
            f"Maven (mvn) is not installed; it is needed once to fetch {what} from Maven Central",
            hint=f"{_INSTALL_MAVEN}, or {otherwise}",
        )
    return mvn


def _run_maven(
    args: list[str],
    *,
    cwd: Path,
    what: str,
    hint: str,
    otherwise: str,
    java_home: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Run ``mvn -B args``; a failure is a :class:`ServerError` with Maven's last lines."""
    env = dict(os.environ)
    if java_home:
        env["JAVA_HOME"] = str(java_home)
    cmd = [_mvn(what, otherwise), "-B", "--no-transfer-progress", *args]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        tail = ([*tail, line.rstrip()])[-40:]
        if progress and "Copying" in line:
            progress(line.strip().split("Copying", 1)[-1].strip())
    if proc.wait() != 0:
        raise ServerError(f"Maven could not resolve {what}:\n" + "\n".join(tail[-15:]), hint=hint)


def ensure_distribution(
    cache_dir: Path,
    version: str,
    *,
    java_home: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Return the lib/ folder of Neo4j ``version``, resolving it once if needed."""
    root = distribution_dir(cache_dir, version)
    lib = root / "lib"
    if (root / _MARKER).is_file() and lib.is_dir():
        return lib
    what = f"org.neo4j:neo4j:{version}"
    otherwise = "point PersonaGraph at an existing server with NEO4J_URI"
    _mvn(f"the Neo4j server {version}", otherwise)
    root.mkdir(parents=True, exist_ok=True)
    (root / "pom.xml").write_text(_POM.format(version=version))
    staging = root / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    if progress:
        progress(f"resolving Neo4j {version} from Maven Central (once; ~150 MB)")
    _run_maven(
        [
            "-f",
            str(root / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
            "-Dmdep.overWriteReleases=true",
        ],
        cwd=root,
        what=what,
        hint="check that Maven Central (repo.maven.apache.org) is reachable and that the "
        "version exists; set PERSONA_NEO4J_VERSION to another release, or point "
        "PersonaGraph at an existing server with NEO4J_URI",
        otherwise=otherwise,
        java_home=java_home,
        progress=progress,
    )
    if lib.exists():
        shutil.rmtree(lib)
    staging.rename(lib)
    (root / _MARKER).write_text(version)
    return lib


def ensure_artifact(
    cache_dir: Path,
    coordinates: str,
    *,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Return the jar of ``group:artifact:version`` (no dependencies), resolving it once.

    The jar lands in ``cache_dir/maven/`` under its own file name; a cached jar is reused
    without running Maven."""
    group, artifact, version = coordinates.split(":")
    folder = cache_dir / "maven" / group
    jar = folder / f"{artifact}-{version}.jar"
    if jar.is_file():
        return jar
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{artifact}-{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    if progress:
        progress(f"resolving {coordinates} from Maven Central (once)")
    by_hand = (
        f"download {artifact}-{version}.jar from Maven Central "
        f"(https://repo.maven.apache.org/maven2/{group.replace('.', '/')}/{artifact}/{version}/) "
        f"into {folder}"
    )
    _run_maven(
        [
            "dependency:copy",
            f"-Dartifact={coordinates}:jar",
            f"-DoutputDirectory={staging}",
            "-Dtransitive=false",
        ],
        cwd=folder,
        what=coordinates,
        hint=f"check that Maven Central (repo.maven.apache.org) is reachable, or {by_hand}",
        otherwise=by_hand,
        progress=progress,
    )
    (staging / jar.name).rename(jar)
    shutil.rmtree(staging, ignore_errors=True)
    return jar


#: Known server main classes, newest first (used when a jar has no service file).
_KNOWN_ENTRY_POINTS = (
    "org.neo4j.server.Neo4jCommunity",  # 2026.x
    "org.neo4j.server.CommunityEntryPoint",  # 5.x and 2025.x
)
_SERVICE = "META-INF/services/org.neo4j.server.startup.EntryPoint"


def entry_point(lib: Path, version: str) -> str:
    """The server's main class, read from the service file of the ``neo4j`` jar.

    Neo4j 5.x names it ``org.neo4j.server.CommunityEntryPoint``; 2026.x renamed it
    (``org.neo4j.server.Neo4jCommunity``). Reading the service file follows such renames; a
    jar without the service file falls back to whichever known main class it contains.
    """
    jar = lib / f"neo4j-{version}.jar"
    try:
        with zipfile.ZipFile(jar) as zf:
            contents = set(zf.namelist())
            if _SERVICE in contents:
                names = [
                    line.split("#", 1)[0].strip()
                    for line in zf.read(_SERVICE).decode().splitlines()
                ]
                names = [n for n in names if n]
            else:
                names = [
                    cls
                    for cls in _KNOWN_ENTRY_POINTS
                    if cls.replace(".", "/") + ".class" in contents
                ]
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ServerError(
            f"cannot read the server entry point from {jar}: {exc}",
            hint=f"delete {lib.parent} to resolve the distribution again",
        ) from exc
    if not names:
        raise ServerError(
            f"{jar} declares no server entry point",
            hint=f"delete {lib.parent} to resolve the distribution again",
        )
    return names[0]


def declares_setting(lib: Path, version: str, name: str) -> bool:
    """True if the distribution's configuration jar declares the setting ``name``.

    For internal settings, which may disappear in any release: strict config validation makes
    the server refuse to start on an unknown key, so such keys are written only when declared.
    """
    jar = lib / f"neo4j-configuration-{version}.jar"
    needle = name.encode()
    try:
        with zipfile.ZipFile(jar) as zf:
            return any(
                needle in zf.read(info)
                for info in zf.infolist()
                if info.filename.endswith("Settings.class")
            )
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
