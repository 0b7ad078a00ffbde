"""PEP 517 build backend for the attn package: setuptools' own, usable without PyPI.

pip builds in an isolated environment and would download the build requirements from PyPI,
which a Debian machine without network access (or with PEP 668's managed Python) cannot do.
pyproject.toml therefore asks for nothing, and this module makes the system's setuptools and
wheel (Debian: python3-setuptools, python3-wheel) importable before handing every hook over to
setuptools.build_meta.
"""
import glob
import importlib
import os
import site
import sys


def _system_site_dirs():
    """Site directories of the base interpreter (the venv's or the system's Python)."""
    dirs = []
    try:
        dirs += site.getsitepackages([sys.base_prefix])
    except (AttributeError, TypeError):
        pass
    dirs += ["/usr/lib/python3/dist-packages",
             f"/usr/lib/python{sys.version_info[0]}.{sys.version_info[1]}/dist-packages"]
    return [d for d in dirs if os.path.isdir(d)]


def _importable():
    try:
        importlib.import_module("setuptools")
        importlib.import_module("wheel")
        return True
    except ImportError:
        return False


def _import_setuptools():
    if _importable():
        return
    for d in _system_site_dirs():
        if d not in sys.path:
            sys.path.append(d)
    if _importable():
        return
    # Debian's python3-setuptools-whl: importable straight from the wheel file.
    for whl in sorted(glob.glob("/usr/share/python-wheels/*.whl")):
        if os.path.basename(whl).split("-")[0] in ("setuptools", "wheel"):
            sys.path.append(whl)
    importlib.import_module("setuptools")  # the error, if still missing, names what to install


_import_setuptools()
from setuptools import build_meta as _meta  # noqa: E402


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


prepare_metadata_for_build_wheel = _meta.prepare_metadata_for_build_wheel
build_wheel = _meta.build_wheel
build_sdist = _meta.build_sdist
if hasattr(_meta, "build_editable"):
    prepare_metadata_for_build_editable = _meta.prepare_metadata_for_build_editable
    build_editable = _meta.build_editable
