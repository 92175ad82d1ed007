"""The embedded server: start is idempotent, status is truthful, the password is private."""

from __future__ import annotations

import os
import stat

import pytest

pytestmark = pytest.mark.integration


def test_start_twice_is_a_noop(neo4j_server) -> None:
    before = neo4j_server.status()
    again = neo4j_server.start()
    assert before.running and again.running
    assert again.pid == before.pid


def test_password_file_is_owner_only(neo4j_server) -> None:
    mode = stat.S_IMODE(os.stat(neo4j_server.password_file).st_mode)
    assert mode == 0o600


def test_bolt_binds_to_loopback_only(neo4j_server) -> None:
    conf = (neo4j_server.conf_dir / "neo4j.conf").read_text()
    assert "server.default_listen_address=127.0.0.1" in conf
    assert "dbms.security.auth_enabled=true" in conf
    assert "server.http.enabled=false" in conf


def test_connection_reports_version_and_capabilities(conn) -> None:
    info = conn.info
    assert info.edition == "community"
    assert info.version.startswith("2026.")
    assert info.capabilities.vector_search_clause


def test_a_connection_without_the_password_is_refused(neo4j_server) -> None:
    """Auth is on in fact, not only in the conf: a wrong password is refused, and the error
    names the server but never the real password."""
    from graph.connection import Neo4jConnection
    from schema.errors import PersonaError

    real = neo4j_server.password()
    with pytest.raises(PersonaError) as exc:
        Neo4jConnection(neo4j_server.uri(), "neo4j", "not-the-password").info  # noqa: B018
    assert "rejected the credentials" in exc.value.message
    assert real not in str(exc.value) and real not in (exc.value.hint or "")


def test_the_generated_password_never_appears_on_a_command_line(
    neo4j_server, tmp_path, monkeypatch
) -> None:
    """`ps` shows every local user the arguments of a running process; neo4j-admin used to get
    the password as one. (The session's own server set its password the same way and Bolt
    accepted it, so the @argfile is read.)"""
    import subprocess

    from graph.local.maven import ensure_distribution
    from graph.local.server import LocalNeo4j

    fresh = LocalNeo4j(neo4j_server.settings.model_copy(update={"home": tmp_path}))
    version, jdk = fresh._choose()
    lib = ensure_distribution(fresh.settings.cache_dir, version, java_home=jdk.home)
    fresh._write_conf(7687)
    seen: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(args, *a, **kw):
        seen.append([str(x) for x in args])
        return real_run(args, *a, **kw)

    monkeypatch.setattr(subprocess, "run", recording_run)
    fresh._set_initial_password(jdk, lib)
    password = fresh.password()
    assert seen and all(password not in arg for argv in seen for arg in argv)
    assert (fresh.data_dir / "dbms" / "auth.ini").is_file()
    assert list(fresh.conf_dir.glob("*.args")) == []  # the argfile is gone


@pytest.mark.slow
def test_a_stale_pid_file_and_a_taken_port_are_said_and_recovered(settings, tmp_path) -> None:
    """A server killed without cleanup leaves its pid file; another program may take its
    port meanwhile. The next start says both and comes up where it can (its own home)."""
    import socket
    import subprocess

    from graph.connection import connect
    from graph.local.server import LocalNeo4j

    own = settings.model_copy(update={"home": tmp_path / "home"})
    said: list[str] = []
    server = LocalNeo4j(own, progress=said.append)
    server.start()
    try:
        old_port = server.instance().port
        server.stop()
        gone = subprocess.Popen(["true"])
        gone.wait()
        server.pid_file.write_text(str(gone.pid))  # a pid no process has any more
        with socket.socket() as squatter:
            # The old server's closed connections can leave the port in TIME_WAIT; a real
            # server (as Neo4j itself does) reuses such an address, so the squatter does too.
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", old_port))
            squatter.listen()
            said.clear()
            status = server.start()
            assert status.running
            assert any("stale pid file" in m for m in said), said
            assert any(f"port {old_port}" in m and "taken" in m for m in said), said
            assert server.instance().port != old_port
            conn = connect(own, start=False)
            try:
                assert conn.read("RETURN 1 AS x") == [{"x": 1}]
            finally:
                conn.close()
    finally:
        server.stop()


def test_the_password_never_reaches_a_log_or_the_db_commands(neo4j_server, cli_settings) -> None:
    """The generated password is in the 0600 password file only: not in any file of the
    server's logs folder (neo4j.log, debug.log, security.log, console.log, ...), also after a
    refused login and a good one, and not in what `persona db start/status/logs` print."""
    from typer.testing import CliRunner

    import cli
    from graph.connection import Neo4jConnection
    from schema.errors import PersonaError

    real = neo4j_server.password()
    assert len(real) > 20  # a generated one, long enough not to occur by chance
    with pytest.raises(PersonaError):  # a refused login: Neo4j logs the attempt
        Neo4jConnection(neo4j_server.uri(), "neo4j", "not-the-password").info  # noqa: B018
    good = Neo4jConnection(neo4j_server.uri(), "neo4j", real)
    try:
        assert good.read("RETURN 1 AS x") == [{"x": 1}]
    finally:
        good.close()
    runner = CliRunner()
    said = []
    for args in (["db", "start"], ["db", "status"], ["db", "logs", "-n", "100000"]):
        result = runner.invoke(cli.app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.output, result.exception)
        said.append(result.output)
    assert "Neo4j running" in said[0] and "community" in said[1]
    assert real not in "\n".join(said)
    logs = [p for p in neo4j_server.logs_dir.rglob("*") if p.is_file()]
    assert any(p.name == "neo4j.log" for p in logs) and any(p.name == "debug.log" for p in logs)
    leaked = [p.name for p in logs if real.encode() in p.read_bytes()]
    assert leaked == [], f"the password is in {leaked}"
