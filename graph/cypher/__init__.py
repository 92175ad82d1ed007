"""Every Cypher statement PersonaGraph runs lives in this package.

Values always travel as parameters. Labels, relationship types and property names cannot be
parameters in Cypher, so the few builders that interpolate them accept only names from the
schema's whitelist (:func:`label`, :func:`rel`, :func:`prop`).
"""

from __future__ import annotations

import re

from schema.errors import UnsafeIdentifier
from schema.model import ALLOWED_LABELS, ALLOWED_RELS, GRAPH_MODEL

__all__ = ["label", "prop", "rel"]

_PROPERTIES: frozenset[str] = frozenset(
    p.name for spec in GRAPH_MODEL.nodes for p in spec.properties
) | {"id", "user_id"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def label(name: str) -> str:
    """A node label from the whitelist, backquoted.

    >>> label("Fact")
    '`Fact`'
    >>> label("Fact`) DETACH DELETE (n")
    Traceback (most recent call last):
    ...
    schema.errors.UnsafeIdentifier: label 'Fact`) DETACH DELETE (n' is not in the schema
    """
    if name not in ALLOWED_LABELS:
        raise UnsafeIdentifier(f"label {name!r} is not in the schema")
    return f"`{name}`"


def rel(name: str) -> str:
    """A relationship type from the whitelist, backquoted."""
    if name not in ALLOWED_RELS:
        raise UnsafeIdentifier(f"relationship type {name!r} is not in the schema")
    return f"`{name}`"


def prop(name: str) -> str:
    """A property name declared by some node model, backquoted."""
    if name not in _PROPERTIES or not _IDENT.match(name):
        raise UnsafeIdentifier(f"property {name!r} is not in the schema")
    return f"`{name}`"
