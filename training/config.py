"""Presets: YAML files validated as :class:`schema.training.TrainConfig`. A wrong field is an
error that says which field, what is wrong and what would be valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from schema.errors import ConfigError
from schema.training import TrainConfig

__all__ = ["PRESETS_DIR", "describe_config", "load_config", "preset_names"]

PRESETS_DIR = Path(__file__).resolve().parent / "presets"


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def _fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The valid field names at ``loc`` (the parent of a bad field)."""
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None or not isinstance(field.annotation, type):
            break
        if issubclass(field.annotation, BaseModel):
            current = field.annotation
    return sorted(getattr(current, "model_fields", {}))


def _explain(
    exc: ValidationError, source: str, overrides: dict[str, Any] | None = None
) -> ConfigError:
    """The first error, blamed on where the value came from: the preset file, or the
    ``--set`` that overrode it."""
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    where = ".".join(str(x) for x in loc) or "(top level)"
    if overrides and where in overrides:
        source = f"--set {where}={overrides[where]}"
    if first["type"] == "extra_forbidden":
        valid = ", ".join(_fields(TrainConfig, loc[:-1]))
        return ConfigError(
            f"{source}: unknown field {where!r}",
            hint=f"valid fields here: {valid} (see `persona train config --preset cpu-tiny`)",
        )
    got = first.get("input")
    return ConfigError(
        f"{source}: {where}: {first['msg']} (got {got!r})",
        hint="fix that value; `persona train config --preset NAME` prints every field with its "
        "help text",
    )


def load_config(preset: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """A preset by name (``cpu-smollm2``) or a YAML path, with dotted overrides applied
    (``{"grpo.steps": 4}``)."""
    named = PRESETS_DIR / f"{preset}.yaml"
    path = named if named.is_file() else Path(preset)
    if not path.is_file():
        raise ConfigError(
            f"no training preset {str(preset)!r}",
            hint=f"use one of {', '.join(preset_names())} or a path to a YAML file",
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", hint="fix the YAML syntax") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a preset is a YAML mapping", hint="see training/presets/")
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, str(path), overrides) from exc


def describe_config(cfg: TrainConfig) -> list[tuple[str, str, str]]:
    """(dotted field, value, help text) for every field, in order."""
    rows: list[tuple[str, str, str]] = []

    def walk(model: BaseModel, prefix: str) -> None:
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                walk(value, f"{prefix}{name}.")
            else:
                rows.append((f"{prefix}{name}", repr(value), field.description or ""))

    walk(cfg, "")
    return rows
