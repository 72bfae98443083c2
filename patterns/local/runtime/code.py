"""Where function code and layers live on disk: unpacked once per code hash, read by every environment."""

from __future__ import annotations

import hashlib
import io
import shutil
import threading
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .model import LayerSpec


class CodeCache:
    """Unpacks function zips once per code hash (the task root) and layer sets once per combination (/opt)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def folder(self, code_sha: str, code_bytes: bytes) -> Path:
        key = hashlib.sha256(code_sha.encode() or code_bytes).hexdigest()[:20]
        return self._unpack(key, [code_bytes])

    def opt(self, layers: Sequence[LayerSpec]) -> Path:
        """The /opt of an environment: every layer's zip extracted in layer order (later ones win, as on AWS)."""
        digest = hashlib.sha256("\n".join(f"{layer.arn}={layer.code_sha}" for layer in layers).encode())
        return self._unpack(f"opt-{digest.hexdigest()[:20]}", [layer.code_bytes for layer in layers])

    def _unpack(self, key: str, archives: Sequence[bytes]) -> Path:
        target = self.root / key
        if target.is_dir():
            return target
        with self._lock:
            if target.is_dir():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            staging = self.root / f".{key}.{uuid.uuid4().hex}"
            staging.mkdir()
            for data in archives:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    archive.extractall(staging)
            staging.rename(target)
        return target

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def layer_paths(opt: Path, runtime: str) -> list[str]:
    """What the Python runtime puts on sys.path from /opt, in its order."""
    version = runtime if runtime.startswith("python3") else "python3"
    return [str(opt / "python" / "lib" / version / "site-packages"), str(opt / "python")]
