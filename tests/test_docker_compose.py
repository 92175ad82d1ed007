"""docker/docker-compose.yml, checked statically: same release as the embedded server,
credentials from the environment, loopback-only ports, persistent volumes, a healthcheck."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from schema.settings import DEFAULT_NEO4J_VERSION

COMPOSE = Path(__file__).resolve().parent.parent / "docker" / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def neo4j(compose: dict[str, Any]) -> dict[str, Any]:
    services = compose["services"]
    assert list(services) == ["neo4j"]
    return services["neo4j"]


def test_image_tag_is_the_embedded_release(neo4j: dict[str, Any]) -> None:
    assert neo4j["image"] == f"neo4j:{DEFAULT_NEO4J_VERSION}-community"


def test_auth_comes_from_the_environment(neo4j: dict[str, Any]) -> None:
    auth = neo4j["environment"]["NEO4J_AUTH"]
    # neo4j/<password from NEO4J_PASSWORD>, required (":?" makes compose fail when unset)
    assert auth.startswith("neo4j/${NEO4J_PASSWORD")
    assert ":?" in auth
    text = COMPOSE.read_text(encoding="utf-8")
    assert "NEO4J_AUTH: none" not in text.replace('"', "")


def test_ports_bind_to_loopback_only(neo4j: dict[str, Any]) -> None:
    ports = neo4j["ports"]
    assert ports
    for mapping in ports:
        assert isinstance(mapping, str)
        assert mapping.startswith("127.0.0.1:"), mapping
    assert any(m.endswith(":7687") for m in ports)
    assert not any(m.endswith(":7474") for m in ports)  # HTTP is off
    assert neo4j["environment"].get("NEO4J_server_http_enabled") == "false"


def test_data_and_logs_are_named_volumes(compose: dict[str, Any], neo4j: dict[str, Any]) -> None:
    mounts = dict(v.split(":", 1) for v in neo4j["volumes"])
    assert "/data" in mounts.values()
    assert "/logs" in mounts.values()
    for name in mounts:
        assert name in compose["volumes"], name


def test_healthcheck(neo4j: dict[str, Any]) -> None:
    hc = neo4j["healthcheck"]
    test = hc["test"]
    assert test[0] in ("CMD", "CMD-SHELL")
    assert "cypher-shell" in " ".join(test)
    for key in ("interval", "timeout", "retries"):
        assert key in hc
    assert int(hc["retries"]) >= 1


def test_memory_settings_are_quoted_strings(neo4j: dict[str, Any]) -> None:
    env = neo4j["environment"]
    for key in (
        "NEO4J_server_memory_heap_initial__size",
        "NEO4J_server_memory_heap_max__size",
        "NEO4J_server_memory_pagecache_size",
    ):
        assert isinstance(env[key], str) and env[key][-1] in "mgMG"
