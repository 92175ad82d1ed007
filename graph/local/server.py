"""The embedded default: a Neo4j Community server that PersonaGraph runs by itself.

Layout under ``<home>/neo4j`` (``home`` = ``PERSONA_HOME``)::

    conf/neo4j.conf      written by us on every start (loopback only, auth on, small memory)
    data/ logs/ run/     the server's own folders
    run/neo4j.pid        pid of the running server
    instance.json        version, Bolt port and JDK of this instance
    password             generated admin password, mode 0600

The server jars live in the shared cache (``PERSONA_CACHE_DIR``/neo4j/<version>/lib).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from graph.local.java import Jdk, choose_version, find_jdks
from graph.local.maven import declares_setting, ensure_distribution, entry_point
from schema.errors import ServerError
from schema.settings import Settings

__all__ = ["Instance", "LocalNeo4j", "ServerStatus"]

#: JVM options the `neo4j` launcher script would take from server.jvm.additional.
_JVM_OPTIONS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+DisableExplicitGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
)

#: At shutdown Bolt waits up to this long for its worker pool, per connector (default 5 s,
#: so ~10 s per stop), although every database has stopped by then. An internal setting:
#: written only when the distribution declares it (unknown keys fail strict validation).
_BOLT_POOL_SHUTDOWN_WAIT = ("internal.server.bolt.thread_pool_shutdown_wait_time", "1s")


@dataclass
class Instance:
    """What ``instance.json`` records about this home's server."""

    version: str
    port: int
    java_home: str
    java_major: int
    pid: int | None = None
    started_at: float | None = None


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    version: str | None
    bolt: str | None
    home: Path
    data_dir: Path
    stale_pid: bool = False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (created 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


class LocalNeo4j:
    """Lifecycle of the embedded server for one PersonaGraph home."""

    def __init__(self, settings: Settings, *, progress: Callable[[str], None] | None = None):
        self.settings = settings
        self.root = settings.neo4j_home
        self.progress = progress or (lambda _msg: None)

    # -- paths ------------------------------------------------------------------------------
    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def pid_file(self) -> Path:
        return self.root / "run" / "neo4j.pid"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def instance_file(self) -> Path:
        return self.root / "instance.json"

    # -- state ------------------------------------------------------------------------------
    def instance(self) -> Instance | None:
        if not self.instance_file.is_file():
            return None
        try:
            return Instance(**json.loads(self.instance_file.read_text()))
        except (ValueError, TypeError) as exc:  # not JSON, or not our fields
            raise ServerError(
                f"{self.instance_file} is corrupt ({type(exc).__name__}: {exc})",
                hint=f"remove it (`rm {self.instance_file}`): the next `persona db start` "
                "writes it again; the data directory is not touched",
            ) from exc

    def _save_instance(self, inst: Instance) -> None:
        _write_private(self.instance_file, json.dumps(asdict(inst), indent=2))

    def password(self) -> str:
        if not self.password_file.is_file():
            started = self.data_dir.is_dir() and any(self.data_dir.iterdir())
            raise ServerError(
                f"no password file at {self.password_file}"
                + (
                    ": the server's data exists, so its password was lost; Neo4j keeps the "
                    "password in its data and cannot tell it again"
                    if started
                    else ": the embedded server was never started from this home"
                ),
                hint=(
                    f"stop the server, move {self.data_dir} aside (your memories are in it) and "
                    "run `persona db start` for a fresh server with a new password"
                    if started
                    else "run `persona db start`"
                ),
            )
        return self.password_file.read_text().strip()

    def _pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _owns(self, pid: int) -> bool:
        """True if ``pid`` is alive and is the server of THIS home (not a reused pid)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            try:
                os.kill(pid, 0)
            except OSError:
                return False
            return True  # no /proc (macOS): alive is the best we can tell
        return f"--home-dir={self.root}".encode() in cmdline

    def status(self) -> ServerStatus:
        pid = self._pid()
        inst = self.instance()
        running = pid is not None and self._owns(pid)
        return ServerStatus(
            running=running,
            pid=pid if running else None,
            version=inst.version if inst else None,
            bolt=f"bolt://127.0.0.1:{inst.port}" if inst else None,
            home=self.root,
            data_dir=self.data_dir,
            stale_pid=pid is not None and not running,
        )

    def uri(self) -> str:
        inst = self.instance()
        if inst is None:
            raise ServerError("the embedded server has never been started", hint="persona db start")
        return f"bolt://127.0.0.1:{inst.port}"

    # -- choosing a version and a JDK -------------------------------------------------------
    def _choose(self) -> tuple[str, Jdk]:
        existing = self.instance()
        return choose_version(
            self.settings.neo4j_version,
            find_jdks(self.settings.java_home),
            existing=existing.version if existing else None,
            prefer=self.settings.java_home,
            home=self.root,
            progress=self.progress,
        )

    # -- configuration ----------------------------------------------------------------------
    def _write_conf(self, port: int, extra: dict[str, str] | None = None) -> None:
        s = self.settings
        lines = [
            "# Written by PersonaGraph on every start; edits are overwritten.",
            "server.default_listen_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{port}",
            f"server.bolt.advertised_address=127.0.0.1:{port}",
            "server.http.enabled=false",
            "server.https.enabled=false",
            "dbms.security.auth_enabled=true",
            "dbms.usage_report.enabled=false",
            f"server.memory.heap.initial_size={s.neo4j_heap}",
            f"server.memory.heap.max_size={s.neo4j_heap}",
            f"server.memory.pagecache.size={s.neo4j_pagecache}",
            "db.tx_log.rotation.retention_policy=2 files",
            f"server.directories.data={self.data_dir}",
            f"server.directories.logs={self.logs_dir}",
            f"server.directories.run={self.root / 'run'}",
            f"server.directories.import={self.root / 'import'}",
            f"server.directories.plugins={self.root / 'plugins'}",
            *(f"{key}={value}" for key, value in (extra or {}).items()),
        ]
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "neo4j.conf").write_text("\n".join(lines) + "\n")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(NEO4J_HOME=str(self.root), NEO4J_CONF=str(self.conf_dir))
        return env

    def _set_initial_password(self, jdk: Jdk, lib: Path) -> None:
        # a leading "-" would be read as an option by neo4j-admin (one start in 64 failed)
        password = "p" + secrets.token_urlsafe(24)
        # neo4j-admin takes the password as an argument, which any local user can read in `ps`
        # while it runs; the java launcher reads the command's tail from a private @argfile
        # instead (JDK 9+), so the command line shows only the file's name
        argfile = self.conf_dir / "set-initial-password.args"
        _write_private(
            argfile,
            "\n".join(
                (
                    "org.neo4j.server.startup.Neo4jAdminCommand",
                    "dbms",
                    "set-initial-password",
                    password,
                    "",
                )
            ),
        )
        try:
            proc = subprocess.run(
                [str(jdk.java), "-cp", f"{lib}/*", f"@{argfile}"],
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            argfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise ServerError(
                "could not set the initial password:\n" + (proc.stdout + proc.stderr)[-2000:]
            )
        _write_private(self.password_file, password + "\n")

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> ServerStatus:
        """Start the server and wait until Bolt answers. A no-op when it is running."""
        current = self.status()
        if current.running:
            return current
        if current.stale_pid:
            self.progress(f"removing stale pid file (pid {self._pid()} is not our server)")
            self.pid_file.unlink(missing_ok=True)
        version, jdk = self._choose()
        lib = ensure_distribution(
            self.settings.cache_dir, version, java_home=jdk.home, progress=self.progress
        )
        for d in ("conf", "data", "logs", "run", "import", "plugins"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        inst = self.instance()
        port = inst.port if inst and not _port_open(inst.port) else _free_port()
        if inst and port != inst.port:
            self.progress(
                f"port {inst.port}, where this server listened before, is taken by another "
                f"program; Bolt moves to {port}"
            )
        key, value = _BOLT_POOL_SHUTDOWN_WAIT
        self._write_conf(port, {key: value} if declares_setting(lib, version, key) else None)
        if not self.password_file.is_file():
            self._set_initial_password(jdk, lib)
        cmd = [
            str(jdk.java),
            f"-Xms{self.settings.neo4j_heap}",
            f"-Xmx{self.settings.neo4j_heap}",
            *_JVM_OPTIONS,
            "-cp",
            f"{lib}/*",
            entry_point(lib, version),
            f"--home-dir={self.root}",
            f"--config-dir={self.conf_dir}",
        ]
        self.progress(f"starting Neo4j {version} on Java {jdk.major} (bolt 127.0.0.1:{port})")
        console = open(self.logs_dir / "console.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            env=self._env(),
            start_new_session=True,
            cwd=self.root,
        )
        console.close()
        self.pid_file.write_text(str(proc.pid))
        self._save_instance(
            Instance(
                version=version,
                port=port,
                java_home=str(jdk.home),
                java_major=jdk.major,
                pid=proc.pid,
                started_at=time.time(),
            )
        )
        self._wait_for_bolt(proc, port)
        return self.status()

    def _wait_for_bolt(self, proc: subprocess.Popen[bytes], port: int) -> None:
        from neo4j import GraphDatabase
        from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired, TransientError

        deadline = time.monotonic() + self.settings.start_timeout_s
        auth = ("neo4j", self.password())
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise ServerError(
                    f"Neo4j exited with code {proc.returncode} during start-up:\n" + self.logs(40),
                    hint=f"see {self.logs_dir} (`persona db logs`)",
                )
            if _port_open(port):
                try:
                    with GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=auth) as driver:
                        driver.execute_query("RETURN 1", database_="neo4j")
                    return
                except (ServiceUnavailable, SessionExpired, TransientError):
                    pass
                except AuthError as exc:
                    raise ServerError(
                        f"the server rejected the stored password: {exc}",
                        hint=f"the data in {self.data_dir} was created with another password; "
                        f"remove {self.root} to start over",
                    ) from exc
            time.sleep(0.25)
        self._terminate(proc.pid)
        raise ServerError(
            f"Neo4j did not answer on port {port} within {self.settings.start_timeout_s:.0f}s:\n"
            + self.logs(40),
            hint="raise PERSONA_START_TIMEOUT_S on a slow machine",
        )

    def _terminate(self, pid: int, timeout: float = 60.0) -> None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(pid):
                return
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    @staticmethod
    def _alive(pid: int) -> bool:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        try:  # a zombie counts as gone
            stat = Path(f"/proc/{pid}/stat").read_text()
            return stat.split(")")[-1].split()[0] != "Z"
        except OSError:
            return True

    def stop(self) -> bool:
        """Stop the server cleanly (SIGTERM, then SIGKILL after 60 s). False if not running."""
        status = self.status()
        if not status.running or status.pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self._terminate(status.pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def logs(self, lines: int = 50) -> str:
        out: list[str] = []
        for name in ("neo4j.log", "console.log"):
            path = self.logs_dir / name
            if path.is_file():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out += [f"==> {path} <==", *tail]
        return "\n".join(out) if out else f"(no logs yet in {self.logs_dir})"
