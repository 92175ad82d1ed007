"""Content-addressed image storage: bytes live at ``<root>/<sha[:2]>/<sha>``; storing the same
image twice writes nothing new."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["ImageStore"]


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> tuple[str, Path]:
        """Store ``data``; returns (sha256, path). Atomic and idempotent."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner only
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            tmp.replace(path)
        return digest, path

    def remove(self, sha256: str) -> bool:
        """Delete one image (forget); True when it was there."""
        path = self.path_for(sha256)
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return existed

    def get(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()
