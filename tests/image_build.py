"""Build the operator's image from the top-level Dockerfile without a Docker engine, then look inside it.

buildah builds the Dockerfile on a Debian base made here with debootstrap, since there may be no
registry to pull ``python:3.11-slim-bookworm`` from; podman runs the result (or buildah itself, where
podman cannot). The debootstrapped root filesystem is cached by Debian release and architecture, so
only the first run pays for it. Images live in a private containers storage, never the machine's.

It runs as root. The tools come from Debian and are installed with apt-get on first use, as the
sandbox installs Prometheus. The storage driver is overlay; set THRIFTY_IMAGE_STORAGE_DRIVER=vfs
where overlay cannot mount (a storage on overlayfs, as inside many containers).
``python tests/image_build.py`` builds the image once and prints what it found.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from thrifty.sandbox.paths import cache_root

Progress = Callable[[str], None]

REPO = Path(__file__).resolve().parents[1]
RELEASE = "bookworm"
# What the Dockerfile needs of its base: python3 with venv, and CA certificates for pip's downloads.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_TAG = f"localhost/thrifty-base:{RELEASE}"
IMAGE_TAG = "localhost/thrifty:test"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# crun refuses hybrid cgroup hierarchies (cgroup v1 controllers beside a cgroup2 mount that holds
# one), which some VMs and CI hosts have; runc runs there.
TOOL_PACKAGES = {"buildah": "buildah", "podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
# A root filesystem debootstrap finished, as opposed to one it left half-written.
BASE_STAMP = "thrifty-base.json"
# The base only has to run the build and the operator: package caches, lists and docs go (as in
# Debian's slim images), but not the copyright files.
BASE_PRUNED = (
    "var/cache/apt/*.bin",
    "var/cache/apt/archives/*.deb",
    "var/lib/apt/lists/*",
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
)
# Certificates this machine trusts beyond Debian's: pip in the build stage reaches PyPI through the
# same network, which may re-sign TLS with such a CA. Only the test's base gets them.
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")


class ImageBuildError(RuntimeError):
    pass


def _print_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ContainerStorage:
    """A private containers storage: images, layers and run state, all under ``root``."""

    root: Path
    driver: str = field(default_factory=lambda: os.environ.get("THRIFTY_IMAGE_STORAGE_DRIVER", "overlay"))

    def options(self) -> list[str]:
        return [
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "run"),
            "--storage-driver",
            self.driver,
        ]

    def buildah(self, *arguments: str) -> list[str]:
        return ["buildah", *self.options(), *arguments]

    def podman(self, *arguments: str) -> list[str]:
        runtime = ["--runtime", "runc"] if shutil.which("runc") else []
        # No systemd or journald to hand cgroups and events to; podman's tmpdir holds its locks.
        host = [
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--tmpdir",
            str(self.root / "tmp"),
        ]
        return ["podman", *self.options(), *runtime, *host, *arguments]


@dataclass(frozen=True)
class ContainerRun:
    """What a command printed in the image, which tool ran it, and why podman did not if it did not."""

    stdout: str
    runner: str
    podman_error: str | None


@dataclass(frozen=True)
class ImageFacts:
    entrypoint: list[str]
    user: str
    size_bytes: int


@dataclass
class PhaseTimes:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = time.monotonic() - started

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.seconds.items())


def _run(
    command: Sequence[str], *, timeout: float = 1800, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command), capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        tail = "\n".join(output[-40:])
        raise ImageBuildError(f"`{' '.join(command)}` exited with {result.returncode}:\n{tail}")
    return result


def ensure_tools(progress: Progress = _print_progress) -> None:
    """Install buildah, podman, runc and debootstrap from Debian if any is missing."""
    if os.geteuid() != 0:
        # debootstrap, chroot and mounting image layers all need it; rootless buildah would not
        # mount without `buildah unshare`.
        raise ImageBuildError("building the image here needs root")
    missing = [package for tool, package in TOOL_PACKAGES.items() if shutil.which(tool) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise ImageBuildError(f"{', '.join(missing)} not installed and apt-get is not available")
    progress(f"[image] installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Waits for another apt-get on the machine to finish instead of failing on its lock.
    lock_wait = ["-o", "DPkg::Lock::Timeout=600"]
    _run(["apt-get", *lock_wait, "update", "-qq"], env=env)
    _run(["apt-get", *lock_wait, "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def debian_mirror(release: str = RELEASE) -> str:
    """The mirror apt uses here for ``release`` (not its -security or -updates suites)."""
    sources = Path("/etc/apt")
    for path in [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*.list"))]:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == release:
                return words[1]
    for path in sorted((sources / "sources.list.d").glob("*.sources")):
        for stanza in _deb822_stanzas(path.read_text()):
            types, suites, uris = (stanza.get(key, "").split() for key in ("types", "suites", "uris"))
            if "deb" in types and release in suites and uris and stanza.get("enabled", "yes") != "no":
                return uris[0]
    return DEFAULT_MIRROR


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    """The fields of each stanza of a deb822 ``.sources`` file, keys in lower case.

    Continuation lines (an inline Signed-By key) and comments carry no field this needs, so they go.
    """
    stanzas: list[dict[str, str]] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[:1].isspace() or line.startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        stanzas.append(fields)
    return stanzas


def base_rootfs_dir(release: str = RELEASE) -> Path:
    architecture = _run(["dpkg", "--print-architecture"]).stdout.strip()
    return cache_root() / "image-base" / f"{release}-{architecture}"


def ensure_base_rootfs(release: str = RELEASE, progress: Progress = _print_progress) -> Path:
    """A minimal Debian root filesystem with python3, made with debootstrap once per release."""
    rootfs = base_rootfs_dir(release)
    stamp = rootfs / BASE_STAMP
    if stamp.exists() and json.loads(stamp.read_text()).get("packages") == list(BASE_PACKAGES):
        progress(f"[image] Debian {release} base: cached")
        return rootfs
    mirror = debian_mirror(release)
    partial = rootfs.with_name(rootfs.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    progress(f"[image] debootstrap {release} from {mirror} (a few minutes; cached afterwards)")
    started = time.monotonic()
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            release,
            str(partial),
            mirror,
        ]
    )
    for pattern in BASE_PRUNED:
        for entry in partial.glob(pattern):
            _remove(entry)
    for entry in partial.glob("usr/share/doc/*/*"):
        if entry.name != "copyright":
            _remove(entry)
    (partial / BASE_STAMP).write_text(
        json.dumps({"release": release, "mirror": mirror, "packages": list(BASE_PACKAGES)}) + "\n"
    )
    shutil.rmtree(rootfs, ignore_errors=True)
    partial.rename(rootfs)
    progress(f"[image] Debian {release} base made in {time.monotonic() - started:.0f} s")
    return rootfs


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def import_base(
    storage: ContainerStorage, rootfs: Path, tag: str = BASE_TAG, progress: Progress = _print_progress
) -> None:
    """Commit ``rootfs`` to the storage as image ``tag``, with this machine's local CAs trusted."""
    progress(f"[image] importing the base as {tag}")
    container = _run(storage.buildah("from", "scratch")).stdout.strip()
    try:
        mountpoint = Path(_run(storage.buildah("mount", container)).stdout.strip())
        # cp -a keeps owners, modes and links; `buildah copy` would make every file root's.
        _run(["cp", "-a", f"{rootfs}/.", f"{mountpoint}/"])
        (mountpoint / BASE_STAMP).unlink(missing_ok=True)
        local_cas = sorted(LOCAL_CA_DIR.glob("**/*.crt")) if LOCAL_CA_DIR.is_dir() else []
        if local_cas:
            progress(f"[image] the base trusts this machine's {len(local_cas)} local CA certificates")
            for certificate in local_cas:
                target = mountpoint / certificate.relative_to("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(certificate, target)
            _run(["chroot", str(mountpoint), "update-ca-certificates"])
        _run(storage.buildah("umount", container))
        _run(
            storage.buildah(
                "config",
                "--env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--cmd",
                "/bin/bash",
                container,
            )
        )
        _run(storage.buildah("commit", "--quiet", container, tag))
    finally:
        subprocess.run(storage.buildah("rm", container), capture_output=True, check=False)


def build_image(
    storage: ContainerStorage,
    base: str = BASE_TAG,
    tag: str = IMAGE_TAG,
    context: Path = REPO,
    progress: Progress = _print_progress,
) -> None:
    """``buildah build`` the Dockerfile in ``context`` on ``base``.

    chroot isolation: it needs no namespaces or cgroups, so it builds inside VMs and containers where
    an OCI runtime cannot start.
    """
    progress(f"[image] buildah build --build-arg BASE_IMAGE={base} -t {tag}")
    _run(
        storage.buildah(
            "build",
            "--isolation",
            "chroot",
            "--pull=never",
            "--build-arg",
            f"BASE_IMAGE={base}",
            "--file",
            str(context / "Dockerfile"),
            "--tag",
            tag,
            str(context),
        )
    )


def image_facts(storage: ContainerStorage, tag: str = IMAGE_TAG) -> ImageFacts:
    config = json.loads(_run(storage.buildah("inspect", "--type", "image", tag)).stdout)["OCIv1"]["config"]
    size = json.loads(_run(storage.podman("image", "inspect", tag)).stdout)[0]["Size"]
    return ImageFacts(entrypoint=config.get("Entrypoint") or [], user=config.get("User", ""), size_bytes=size)


def run_in_image(
    storage: ContainerStorage,
    command: Sequence[str],
    tag: str = IMAGE_TAG,
    progress: Progress = _print_progress,
) -> ContainerRun:
    """Run ``command`` in the image as its own user, with podman, else with ``buildah run``."""
    entrypoint, *arguments = command
    podman = storage.podman(
        "run",
        "--rm",
        "--network",
        "none",
        # The runtime cannot raise resource limits without CAP_SYS_RESOURCE, and podman's defaults
        # exceed what it inherits on some hosts; these are plenty for a short command.
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "--entrypoint",
        entrypoint,
        tag,
        *arguments,
    )
    try:
        return ContainerRun(_run(podman, timeout=300).stdout, "podman", None)
    except ImageBuildError as error:
        podman_error = str(error)
        progress(f"[image] podman could not run the image, trying buildah run:\n{podman_error}")
    container = _run(storage.buildah("from", "--pull=never", tag)).stdout.strip()
    try:
        result = _run(storage.buildah("run", "--isolation", "chroot", container, "--", *command), timeout=300)
    finally:
        subprocess.run(storage.buildah("rm", container), capture_output=True, check=False)
    return ContainerRun(result.stdout, "buildah run", podman_error)


def remove_storage(storage: ContainerStorage) -> None:
    """Delete the storage, unmounting what it left mounted first (the overlay driver binds its own
    directory, which would otherwise stay busy)."""
    subprocess.run(storage.podman("rm", "--all", "--force"), capture_output=True, check=False)
    subprocess.run(storage.buildah("rm", "--all"), capture_output=True, check=False)
    root = storage.root.resolve()
    # Field 5 of a mountinfo line is the mount point, its spaces written as \040.
    mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
    mounted = (line.split()[4].replace("\\040", " ") for line in mountinfo)
    mountpoints = [Path(path) for path in mounted if Path(path).is_relative_to(root)]
    for mountpoint in sorted(mountpoints, key=lambda path: len(path.parts), reverse=True):
        subprocess.run(["umount", str(mountpoint)], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


def project_version() -> str:
    version: str = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    return version


def build_from_scratch(storage: ContainerStorage) -> PhaseTimes:
    """Install the tools, make and import the base, build the image into ``storage``; each step timed."""
    times = PhaseTimes()
    with times.phase("tools"):
        ensure_tools()
    with times.phase("base rootfs"):
        rootfs = ensure_base_rootfs()
    with times.phase("base import"):
        import_base(storage, rootfs)
    with times.phase("build"):
        build_image(storage)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--storage", type=Path, help="containers storage to keep (default: a temporary one)")
    args = parser.parse_args(argv)
    storage = ContainerStorage(args.storage or Path(tempfile.mkdtemp(prefix="thrifty-image-")))
    try:
        times = build_from_scratch(storage)
        facts = image_facts(storage)
        version = run_in_image(storage, ["thrifty", "--version"])
    finally:
        if args.storage is None:
            remove_storage(storage)
    print(f"entrypoint {facts.entrypoint}, user {facts.user}, {facts.size_bytes / 1e6:.0f} MB")
    print(f"{version.runner}: {version.stdout.strip()}")
    print(times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
