"""Where function code and layers live on disk: unpacked once per code hash, read by every environment."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import io
import shutil
import sys
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
        opt = self._unpack(f"opt-{digest.hexdigest()[:20]}", [layer.code_bytes for layer in layers])
        with self._lock:
            stand_in_foreign_native_code(opt)
        return opt

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


#: Where packages of a layer built for another platform are moved aside (see stand_in_foreign_native_code).
FOREIGN_DIR = ".foreign-native-code"


def _elf_machine(data: bytes) -> int | None:
    """e_machine of an ELF header (62 x86-64, 183 AArch64), None when not ELF."""
    if len(data) < 20 or data[:4] != b"\x7fELF":
        return None
    return int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")


def _host_machine() -> int | None:
    with open(sys.executable, "rb") as interpreter:
        return _elf_machine(interpreter.read(64))


def _foreign_extension(path: Path) -> bool:
    """An extension module built for another interpreter or machine (e.g. cpython-314-aarch64 on x86_64)."""
    name = path.name
    if not name.endswith(".so"):
        return False
    parts = name.split(".")
    if len(parts) > 2 and f".{parts[-2]}.so" not in importlib.machinery.EXTENSION_SUFFIXES:
        return True  # tagged for another Python or platform: this interpreter would not even look at it
    with path.open("rb") as binary:
        machine = _elf_machine(binary.read(64))
    return machine is not None and machine != _host_machine()


def stand_in_foreign_native_code(opt: Path) -> list[str]:
    """Let the venv's copy stand in for a layer package whose native code cannot run on this machine.

    A layer built for the function (arm64, CPython 3.14 wheels) holds extension modules this interpreter
    cannot load; AWS would load them, so failing the import locally would be a difference of the
    machine, not of the code. Such a top-level package is moved aside — only when the venv has a package
    of the same name to import instead; otherwise it stays and the import fails as it would. Returns the
    names stood in for (also listed in ``<opt>/.foreign-native-code/STOOD-IN``).
    """
    record = opt / FOREIGN_DIR / "STOOD-IN"
    if record.exists():
        return record.read_text().split()
    stood_in: list[str] = []
    for site in (opt / "python", *sorted((opt / "python" / "lib").glob("python3*/site-packages"))):
        if not site.is_dir():
            continue
        for entry in sorted(site.iterdir()):
            if not entry.is_dir() or entry.name.endswith((".dist-info", ".libs")) or entry.name.startswith("."):
                continue
            if not any(_foreign_extension(p) for p in entry.rglob("*") if p.is_file()):
                continue
            if importlib.util.find_spec(entry.name) is None:
                continue
            target = opt / FOREIGN_DIR / entry.name
            target.parent.mkdir(exist_ok=True)
            entry.rename(target)
            stood_in.append(entry.name)
    record.parent.mkdir(exist_ok=True)
    record.write_text("\n".join(stood_in))
    return stood_in
