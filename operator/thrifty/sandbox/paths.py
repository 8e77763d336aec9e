"""Where the sandbox keeps its build cache and the state of a running sandbox."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Build cache shared by every sandbox on this machine (binaries keyed by version)."""
    explicit = os.environ.get("THRIFTY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "thrifty"


def default_state_dir() -> Path:
    """State of the running sandbox: certificates, kubeconfig, data, logs and pid files."""
    explicit = os.environ.get("THRIFTY_SANDBOX_DIR")
    if explicit:
        return Path(explicit)
    return cache_root() / "sandbox"
