#!/usr/bin/env python3
"""Fetch axe-core (the accessibility engine the browser tests load into each page) from the npm
registry, check it, and write `var/vendor/axe.min.js`.

    python3 scripts/fetch-axe.py [--force] [--output PATH]

Standard library only (it runs before or without the venv). The version is pinned below, and so
is the tarball's sha512: the script refuses a tarball whose digest differs from the pin or from
the registry's `dist.integrity`. An existing output file that already holds the pinned version is left
alone unless --force is given, so `make test` only hits the network the first time (and again
after the pin changes). The output directory is git-ignored (var/).
Exit status: 0 done or already there, 1 download or verification failure.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

VERSION = "4.14.1"
# dist.integrity of axe-core@4.14.1 as published on the registry (pinned: a changed tarball fails).
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
REGISTRY = os.environ.get("NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")
MEMBER = "package/axe.min.js"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "var" / "vendor" / "axe.min.js"
TIMEOUT = 60
MAX_TARBALL_BYTES = 20 * 1024 * 1024


class FetchError(Exception):
    pass


def get(url):
    if not url.startswith("https://") and not url.startswith("http://"):
        raise FetchError(f"refusing a non-HTTP URL: {url}")
    headers = {"Accept": "application/json, */*", "User-Agent": "motcua-fetch-axe"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - scheme checked above
            body = response.read(MAX_TARBALL_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise FetchError(f"cannot download {url}: {exc}") from exc
    if len(body) > MAX_TARBALL_BYTES:
        raise FetchError(f"{url} is larger than {MAX_TARBALL_BYTES} bytes")
    return body


def sri_sha512(data):
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def fetch(version=VERSION, integrity=INTEGRITY):
    """The bytes of axe.min.js from the verified tarball of axe-core@version."""
    try:
        metadata = json.loads(get(f"{REGISTRY}/axe-core/{version}"))
        dist = metadata["dist"]
        tarball_url, published = dist["tarball"], dist["integrity"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FetchError(f"unexpected registry metadata for axe-core@{version}: {exc!r}") from exc
    if published != integrity:
        raise FetchError(f"the registry's integrity for axe-core@{version} is {published}, expected {integrity}")
    tarball = get(tarball_url)
    actual = sri_sha512(tarball)
    if actual != integrity:
        raise FetchError(f"{tarball_url}: sha512 mismatch (got {actual}, expected {integrity})")
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            member = archive.getmember(MEMBER)
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is None:
                raise FetchError(f"{MEMBER} is not a regular file in {tarball_url}")
            source = handle.read()
    except (tarfile.TarError, KeyError) as exc:
        raise FetchError(f"cannot read {MEMBER} from {tarball_url}: {exc}") from exc
    if b"axe" not in source[:2000]:
        raise FetchError(f"{MEMBER} does not look like axe-core")
    return source


def write_atomically(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".axe-", delete=False) as handle:
        handle.write(data)
        temporary = Path(handle.name)
    temporary.chmod(0o644)
    temporary.replace(path)


def is_current(path, version=VERSION):
    """True when `path` holds axe-core `version` (its banner reads "/*! axe v<version>")."""
    try:
        with path.open("rb") as handle:
            return handle.read(64).startswith(f"/*! axe v{version}\n".encode())
    except OSError:
        return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=f"Download axe-core {VERSION} into var/vendor/.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write axe.min.js")
    parser.add_argument("--force", action="store_true", help="download again even if the file exists")
    args = parser.parse_args(argv)
    if is_current(args.output) and not args.force:
        args.output.touch()  # newer than this script: `make` will not ask again
        print(f"fetch-axe: axe-core {VERSION} is already in {args.output}")
        return 0
    try:
        source = fetch()
    except FetchError as exc:
        print(f"fetch-axe: {exc}", file=sys.stderr)
        return 1
    write_atomically(args.output, source)
    print(f"fetch-axe: wrote axe-core {VERSION} to {args.output} ({len(source)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
