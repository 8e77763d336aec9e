"""The declared Python surface: what `thrifty` exports, and an `__all__` in every package that names
exactly what it holds, so a new module is declared on purpose."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import thrifty

PACKAGES = [
    name for _, name, is_package in pkgutil.walk_packages(thrifty.__path__, prefix="thrifty.") if is_package
]
# Packages whose modules are the surface: each lists its modules. The others (a resource's handler
# package, the cli) export their entry point.
LAYERS = [
    "thrifty.actuators",
    "thrifty.api",
    "thrifty.engine",
    "thrifty.handlers",
    "thrifty.sandbox",
    "thrifty.sources",
]

# Submodules show up as attributes of `thrifty` once imported; they are not its exports.
PACKAGE_NAMES = {name.split(".")[1] for name in PACKAGES} | {"settings"}


def test_thrifty_exports_its_api_identity_and_version() -> None:
    assert thrifty.__all__ == ["API_VERSION", "FIELD_MANAGER", "GROUP", "VERSION", "__version__"]
    public = sorted(name for name in vars(thrifty) if not name.startswith("_") and name not in PACKAGE_NAMES)
    assert public == sorted(n for n in thrifty.__all__ if not n.startswith("_"))
    assert (thrifty.GROUP, thrifty.VERSION, thrifty.FIELD_MANAGER) == ("thrifty.dev", "v1alpha1", "thrifty")


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_declares_what_it_exports(name: str) -> None:
    package = importlib.import_module(name)
    declared = getattr(package, "__all__", None)
    assert declared is not None, f"{name} has no __all__"
    for member in declared:
        assert hasattr(package, member) or _submodule(package, member), f"{name}.__all__ names {member}"


@pytest.mark.parametrize("name", LAYERS)
def test_a_layer_lists_exactly_its_modules(name: str) -> None:
    package = importlib.import_module(name)
    modules = sorted(m.name for m in pkgutil.iter_modules(package.__path__))
    assert sorted(package.__all__) == modules


def _submodule(package: ModuleType, member: str) -> bool:
    try:
        importlib.import_module(f"{package.__name__}.{member}")
    except ImportError:
        return False
    return True
