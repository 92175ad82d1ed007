"""Pure launcher logic, no server and no real JDK needed: version keys, Java ranges, JDK and
version selection (including the automatic fallback to the 5.26 LTS line), capabilities,
DDL per server line, the server entry point read from the neo4j jar, and stale pid files."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from graph.connection import capabilities_for
from graph.cypher import ddl
from graph.cypher import write as W
from graph.local import server as server_mod
from graph.local.java import Jdk, choose_version, java_range, neo4j_version_key, pick_jdk
from graph.local.maven import declares_setting, entry_point
from graph.local.server import LocalNeo4j
from graph.migrate import _outdated
from schema.errors import JavaNotFound, ServerError, UnsafeIdentifier
from schema.model import GRAPH_MODEL, VECTOR_INDEX
from schema.settings import DEFAULT_NEO4J_VERSION, LTS_NEO4J_VERSION, Settings

JDK17 = Jdk(major=17, version="17.0.15", home=Path("/fake/jvm/java-17"))
JDK21 = Jdk(major=21, version="21.0.7", home=Path("/fake/jvm/java-21"))
JDK25 = Jdk(major=25, version="25.0.3", home=Path("/fake/jvm/temurin-25"))
JDK26 = Jdk(major=26, version="26", home=Path("/fake/jvm/jdk-26"))
JDK11 = Jdk(major=11, version="11.0.24", home=Path("/fake/jvm/java-11"))


# ---------------------------------------------------------------- versions and Java ranges
@pytest.mark.parametrize(
    ("version", "key"),
    [
        ("2026.08.1", (2026, 8, 1)),
        ("5.26.30", (5, 26, 30)),
        ("5.26", (5, 26, 0)),
        ("2025.10.0-aura", (2025, 10, 0)),
        ("5", (5, 0, 0)),
    ],
)
def test_neo4j_version_key(version: str, key: tuple[int, int, int]) -> None:
    assert neo4j_version_key(version) == key


def test_version_keys_order_calendar_releases_after_the_5x_line() -> None:
    assert neo4j_version_key("5.26.30") < neo4j_version_key("2025.01.0")
    assert neo4j_version_key("2026.08.1") > neo4j_version_key("2026.01.0")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("5.26.30", (17, 21)),
        (LTS_NEO4J_VERSION, (17, 21)),
        ("2025.01.0", (21, 21)),
        ("2025.09.0", (21, 21)),
        ("2025.10.0", (21, 25)),
        (DEFAULT_NEO4J_VERSION, (21, 25)),
    ],
)
def test_java_range(version: str, expected: tuple[int, int]) -> None:
    assert java_range(version) == expected


# ---------------------------------------------------------------- picking a JDK
def test_pick_jdk_takes_the_newest_jdk_in_range() -> None:
    jdks = [JDK25, JDK21, JDK17]
    assert pick_jdk(LTS_NEO4J_VERSION, jdks) == JDK21
    assert pick_jdk(DEFAULT_NEO4J_VERSION, jdks) == JDK25
    assert pick_jdk(LTS_NEO4J_VERSION, [JDK25, JDK17]) == JDK17


def test_pick_jdk_honours_a_preferred_jdk_in_range_only() -> None:
    jdks = [JDK25, JDK21, JDK17]
    assert pick_jdk(LTS_NEO4J_VERSION, jdks, prefer=JDK17.home) == JDK17
    # a preferred JDK outside the version's range is ignored, not forced
    assert pick_jdk(DEFAULT_NEO4J_VERSION, jdks, prefer=JDK17.home) == JDK25


def test_pick_jdk_without_a_fitting_jdk_names_what_to_install() -> None:
    with pytest.raises(JavaNotFound) as err:
        pick_jdk(LTS_NEO4J_VERSION, [JDK25, JDK11])
    assert "Java 17-21" in err.value.message
    assert "Java 25 at /fake/jvm/temurin-25" in err.value.message
    assert err.value.hint is not None
    assert "openjdk-21-jdk-headless" in err.value.hint
    assert "PERSONA_JAVA_HOME" in err.value.hint


# ---------------------------------------------------------------- choosing the version
def test_default_version_runs_on_modern_java() -> None:
    assert choose_version(DEFAULT_NEO4J_VERSION, [JDK25, JDK17]) == (DEFAULT_NEO4J_VERSION, JDK25)
    assert choose_version(DEFAULT_NEO4J_VERSION, [JDK21, JDK17]) == (DEFAULT_NEO4J_VERSION, JDK21)


def test_only_java_17_falls_back_to_the_lts_line() -> None:
    said: list[str] = []
    version, jdk = choose_version(DEFAULT_NEO4J_VERSION, [JDK17, JDK11], progress=said.append)
    assert (version, jdk) == (LTS_NEO4J_VERSION, JDK17)
    assert any("falling back" in m and LTS_NEO4J_VERSION in m for m in said)


def test_a_jdk_newer_than_the_default_supports_does_not_block_the_fallback() -> None:
    # Java 26 is "modern" but outside 2026.08's supported 21-25: Java 17 + LTS still runs
    assert choose_version(DEFAULT_NEO4J_VERSION, [JDK26, JDK17]) == (LTS_NEO4J_VERSION, JDK17)


def test_no_fitting_jdk_raises_java_not_found_with_an_install_hint() -> None:
    for jdks in ([], [JDK11], [JDK26, JDK11]):
        with pytest.raises(JavaNotFound) as err:
            choose_version(DEFAULT_NEO4J_VERSION, jdks)
        hint = err.value.hint or ""
        assert "openjdk-25-jdk-headless" in hint
        assert "openjdk-17-jdk-headless" in hint
        assert "LTS" in hint
        assert DEFAULT_NEO4J_VERSION in err.value.message


def test_an_explicit_version_never_falls_back() -> None:
    with pytest.raises(JavaNotFound):
        choose_version("2026.01.0", [JDK17])
    assert choose_version(LTS_NEO4J_VERSION, [JDK25, JDK21, JDK17]) == (LTS_NEO4J_VERSION, JDK21)
    assert choose_version(LTS_NEO4J_VERSION, [JDK25, JDK21, JDK17], prefer=JDK17.home) == (
        LTS_NEO4J_VERSION,
        JDK17,
    )


def test_a_home_keeps_the_version_of_its_store() -> None:
    said: list[str] = []
    # default configured, an LTS store exists: keep the LTS even though Java 25 is there
    assert choose_version(
        DEFAULT_NEO4J_VERSION, [JDK25, JDK17], existing=LTS_NEO4J_VERSION, progress=said.append
    ) == (LTS_NEO4J_VERSION, JDK17)
    assert said == []  # the default is not a deliberate choice: nothing to explain
    choose_version("2026.01.0", [JDK25, JDK17], existing=LTS_NEO4J_VERSION, progress=said.append)
    assert said and "keeping" in said[0]


def test_local_server_choose_uses_the_discovered_jdks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def fake_find_jdks(extra: Path | None = None) -> list[Jdk]:
        seen.append(extra)
        return [JDK17]

    monkeypatch.setattr(server_mod, "find_jdks", fake_find_jdks)
    settings = Settings(home=tmp_path, neo4j_uri=None, java_home=JDK17.home)
    assert LocalNeo4j(settings)._choose() == (LTS_NEO4J_VERSION, JDK17)
    assert seen == [JDK17.home]


# ---------------------------------------------------------------- capabilities and DDL
def test_capabilities_of_the_lts_line() -> None:
    caps = capabilities_for("5.26.30")
    assert not caps.cypher25
    assert not caps.vector_search_clause
    assert not caps.search_in_list
    assert not caps.fulltext_search_clause
    assert not caps.vector_index_filters
    assert caps.vector_index_quantization
    assert caps.best_vector_path == "prefilter"
    assert not capabilities_for("5.22.0").vector_index_quantization


@pytest.mark.parametrize(
    ("version", "cypher25", "search", "in_list", "fulltext"),
    [
        ("2025.01.0", False, False, False, False),
        ("2025.06.0", True, False, False, False),
        ("2026.01.0", True, True, False, False),
        ("2026.08.1", True, True, True, False),
        ("2026.09.0", True, True, True, True),
    ],
)
def test_capabilities_of_calendar_releases(
    version: str, cypher25: bool, search: bool, in_list: bool, fulltext: bool
) -> None:
    caps = capabilities_for(version)
    assert caps.cypher25 is cypher25
    assert caps.vector_search_clause is search
    assert caps.vector_index_filters is search
    assert caps.search_in_list is in_list
    assert caps.fulltext_search_clause is fulltext
    assert caps.vector_index_quantization
    assert caps.best_vector_path == ("auto" if search else "prefilter")


def _vector_spec() -> Any:
    return next(s for s in GRAPH_MODEL.indexes if s.name == VECTOR_INDEX)


def test_vector_index_ddl_on_the_lts_line_is_cypher5() -> None:
    stmt = ddl.render(_vector_spec(), capabilities_for("5.26.30"), dimension=384)
    assert not stmt.startswith("CYPHER 25")
    assert " WITH [" not in stmt
    assert "`vector.dimensions`: 384" in stmt
    assert "`vector.quantization.enabled`: false" in stmt
    old = ddl.render(_vector_spec(), capabilities_for("5.20.0"), dimension=384)
    assert "quantization" not in old


def test_vector_index_ddl_on_2026_declares_filters() -> None:
    stmt = ddl.render(_vector_spec(), capabilities_for(DEFAULT_NEO4J_VERSION), dimension=384)
    assert stmt.startswith("CYPHER 25 CREATE VECTOR INDEX")
    assert "WITH [n.`user_id`, n.`t`, n.`kind`]" in stmt
    assert "`vector.quantization.enabled`: false" in stmt


def test_migrate_rebuilds_only_outdated_vector_indexes() -> None:
    spec = _vector_spec()
    lts = SimpleNamespace(caps=capabilities_for("5.26.30"))
    current = {
        "properties": ["embedding"],
        "options": {"indexConfig": {"vector.quantization.enabled": False}},
    }
    assert _outdated(current, spec, lts) is None  # type: ignore[arg-type]
    quantised = {
        "properties": ["embedding"],
        "options": {"indexConfig": {"vector.quantization.enabled": True}},
    }
    assert "quantisation" in (_outdated(quantised, spec, lts) or "")  # type: ignore[arg-type]
    modern = SimpleNamespace(caps=capabilities_for(DEFAULT_NEO4J_VERSION))
    assert "filter properties" in (_outdated(current, spec, modern) or "")  # type: ignore[arg-type]


# ---------------------------------------------------------------- write builders
def test_owner_keys_are_row_fields_not_schema_properties() -> None:
    stmt = W.merge_owned("ProfileEntry", "CoreProfile", "HAS_ENTRY", "profile_id")
    assert "MATCH (o:`CoreProfile` {id: r.`profile_id`, user_id: $user_id})" in stmt
    assert "{id: $user_id, user_id: $user_id}" in W.attach("User", "HAS_FACT", "Fact", "user")
    with pytest.raises(UnsafeIdentifier):
        W.attach("Session", "HAS_TURN", "Turn", "x`}) DETACH DELETE (n")


# ---------------------------------------------------------------- entry point from the jar
def _jar(lib: Path, version: str, entries: dict[str, str]) -> Path:
    lib.mkdir(parents=True, exist_ok=True)
    jar = lib / f"neo4j-{version}.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        for name, text in entries.items():
            zf.writestr(name, text)
    return jar


SERVICE = "META-INF/services/org.neo4j.server.startup.EntryPoint"


def test_entry_point_reads_the_service_file(tmp_path: Path) -> None:
    _jar(
        tmp_path / "lib",
        "5.26.30",
        {SERVICE: "# the community server\n\n  org.neo4j.server.CommunityEntryPoint  \n"},
    )
    assert entry_point(tmp_path / "lib", "5.26.30") == "org.neo4j.server.CommunityEntryPoint"


def test_entry_point_follows_renames(tmp_path: Path) -> None:
    _jar(tmp_path / "lib", "2026.08.1", {SERVICE: "org.neo4j.server.Neo4jCommunity\n"})
    assert entry_point(tmp_path / "lib", "2026.08.1") == "org.neo4j.server.Neo4jCommunity"


def test_entry_point_without_service_file_falls_back_to_a_known_class(tmp_path: Path) -> None:
    _jar(tmp_path / "lib", "5.26.1", {"org/neo4j/server/CommunityEntryPoint.class": "\xca\xfe"})
    assert entry_point(tmp_path / "lib", "5.26.1") == "org.neo4j.server.CommunityEntryPoint"


@pytest.mark.parametrize(
    "entries",
    [{"README": "no entry point here"}, {SERVICE: "# only a comment\n"}],
)
def test_entry_point_missing_is_a_server_error(tmp_path: Path, entries: dict[str, str]) -> None:
    _jar(tmp_path / "lib", "5.26.30", entries)
    with pytest.raises(ServerError) as err:
        entry_point(tmp_path / "lib", "5.26.30")
    assert "no server entry point" in err.value.message
    assert err.value.hint and "resolve the distribution again" in err.value.hint


def test_entry_point_of_a_missing_or_broken_jar_is_a_server_error(tmp_path: Path) -> None:
    with pytest.raises(ServerError):
        entry_point(tmp_path / "lib", "5.26.30")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "neo4j-5.26.30.jar").write_text("not a zip")
    with pytest.raises(ServerError):
        entry_point(tmp_path / "lib", "5.26.30")


def test_internal_settings_are_written_only_when_declared(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    key = "internal.server.bolt.thread_pool_shutdown_wait_time"
    lib.mkdir()
    with zipfile.ZipFile(lib / "neo4j-configuration-5.26.30.jar", "w") as zf:
        zf.writestr(
            "org/neo4j/configuration/connectors/BoltConnectorInternalSettings.class",
            b"\xca\xfe\xba\xbe" + key.encode() + b"\x00",
        )
        zf.writestr("org/neo4j/configuration/Other.class", b"internal.elsewhere")
    assert declares_setting(lib, "5.26.30", key)
    assert not declares_setting(lib, "5.26.30", "internal.server.bolt.removed_setting")
    assert not declares_setting(lib, "5.26.30", "internal.elsewhere")  # *Settings.class only
    assert not declares_setting(lib, "2026.08.1", key)  # no such jar


# ---------------------------------------------------------------- pid files
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_pid_is_reported_stale(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, neo4j_uri=None)
    pid_file = tmp_path / "neo4j" / "run" / "neo4j.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{_dead_pid()}\n")
    status = LocalNeo4j(settings).status()
    assert status.stale_pid is True
    assert status.running is False
    assert status.pid is None


def test_a_live_pid_of_another_process_is_stale_too(tmp_path: Path) -> None:
    """A reused pid (here: this test process) is not this home's server."""
    settings = Settings(home=tmp_path, neo4j_uri=None)
    server = LocalNeo4j(settings)
    server.pid_file.parent.mkdir(parents=True)
    server.pid_file.write_text(str(os.getpid()))
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("no /proc: a live pid cannot be told apart from our server")
    status = server.status()
    assert status.stale_pid and not status.running


def test_no_pid_file_is_neither_running_nor_stale(tmp_path: Path) -> None:
    status = LocalNeo4j(Settings(home=tmp_path, neo4j_uri=None)).status()
    assert not status.running and not status.stale_pid
    assert status.version is None and status.bolt is None


def test_a_corrupt_instance_file_is_named_with_the_fix(tmp_path: Path) -> None:
    from graph.local.server import LocalNeo4j
    from schema.errors import ServerError
    from schema.settings import Settings

    server = LocalNeo4j(Settings(home=tmp_path))
    server.instance_file.parent.mkdir(parents=True)
    server.instance_file.write_text("{not json")
    with pytest.raises(ServerError, match="corrupt") as exc:
        server.instance()
    assert exc.value.hint and "rm " in exc.value.hint


def test_a_lost_password_with_data_does_not_send_you_in_a_loop(tmp_path: Path) -> None:
    from graph.local.server import LocalNeo4j
    from schema.errors import ServerError
    from schema.settings import Settings

    server = LocalNeo4j(Settings(home=tmp_path))
    with pytest.raises(ServerError) as never:
        server.password()
    assert never.value.hint == "run `persona db start`"
    (server.data_dir / "databases").mkdir(parents=True)
    with pytest.raises(ServerError, match="password was lost") as lost:
        server.password()
    assert lost.value.hint and "persona db start" in lost.value.hint and "aside" in lost.value.hint


def test_db_stop_and_status_know_the_training_and_benchmark_servers(tmp_path: Path) -> None:
    """`persona train` and `persona bench` leave their own servers running under the home
    (<home>/train, <home>/bench/<model>); `db status` lists them and `db stop` stops them."""
    from cli.db import _companions
    from schema.settings import Settings

    (tmp_path / "bench" / "bge-small-en-v1.5-q").mkdir(parents=True)
    (tmp_path / "bench" / "all-MiniLM-L6-v2").mkdir()
    found = [(label, s.home) for label, s in _companions(Settings(home=tmp_path))]
    assert found == [
        ("training", tmp_path / "train"),
        ("benchmark (all-MiniLM-L6-v2)", tmp_path / "bench" / "all-MiniLM-L6-v2"),
        ("benchmark (bge-small-en-v1.5-q)", tmp_path / "bench" / "bge-small-en-v1.5-q"),
    ]
