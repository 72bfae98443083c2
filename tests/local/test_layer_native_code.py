"""A layer built for the function's machine (arm64, CPython 3.14 wheels) on a machine that cannot load it.

AWS loads such a layer's extension modules; this interpreter cannot, so the venv's copy of the same
package stands in — and only then: a package the venv does not have stays, and its import fails as
it would on any machine that cannot run it.
"""

from __future__ import annotations

from pathlib import Path

from patterns.local.runtime.code import FOREIGN_DIR, stand_in_foreign_native_code


def _package(site: Path, name: str, extension: str) -> None:
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text("")
    (site / name / extension).write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 11 + (183).to_bytes(2, "little"))


def test_a_foreign_build_of_a_venv_package_is_stood_in_for_and_nothing_else(tmp_path: Path) -> None:
    # GIVEN a layer with an aarch64/cp314 Pillow, an unknown foreign package and a pure-Python module
    site = tmp_path / "python"
    _package(site, "PIL", "_imaging.cpython-314-aarch64-linux-gnu.so")
    _package(site, "no_such_dist_here", "_core.cpython-314-aarch64-linux-gnu.so")
    (site / "shared_code").mkdir()
    (site / "shared_code" / "__init__.py").write_text("VALUE = 1\n")
    # WHEN the local cloud prepares the layer
    stood_in = stand_in_foreign_native_code(tmp_path)
    # THEN only the package the venv can import instead is moved aside
    assert stood_in == ["PIL"]
    assert not (site / "PIL").exists() and (tmp_path / FOREIGN_DIR / "PIL" / "__init__.py").exists()
    assert (site / "no_such_dist_here").is_dir()
    assert (site / "shared_code" / "__init__.py").exists()
    # AND a second preparation (another environment) finds the same answer without moving anything
    assert stand_in_foreign_native_code(tmp_path) == ["PIL"]


def test_a_native_package_built_for_this_machine_stays(tmp_path: Path) -> None:
    import importlib.machinery

    site = tmp_path / "python"
    own_suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (site / "PIL").mkdir(parents=True)
    (site / "PIL" / f"_imaging{own_suffix}").write_bytes(Path("/proc/self/exe").read_bytes()[:64])
    assert stand_in_foreign_native_code(tmp_path) == []
    assert (site / "PIL").is_dir()
