"""Crafted VM archives for tests: an archive made by ``vmgui export`` with members
replaced, added or removed and its manifest made to match, so that only vmgui's checks of
the content can refuse it."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path


def craft(archive: Path, out: Path, changes: dict[str, bytes | None],
          manifest_edit=None) -> Path:
    """``archive`` with members replaced (None: removed) or added, the manifest's sizes
    and checksums made to match, so that only the checks of content refuse it."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}
    manifest = json.loads(members.pop("manifest.json"))
    for name, data in changes.items():
        if data is None:
            members.pop(name, None)
            manifest["files"].pop(name, None)
        else:
            members[name] = data
    for name, data in members.items():
        manifest["files"][name] = {"size": len(data),
                                   "sha256": hashlib.sha256(data).hexdigest()}
    if manifest_edit is not None:
        manifest_edit(manifest)
    with tarfile.open(out, "w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()),
                           *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def member(archive: Path, name: str) -> str:
    with tarfile.open(archive) as tar:
        return tar.extractfile(name).read().decode()
