"""Library chores behind manager actions: the demo VM, VMs from dropped images, adding
an existing VM folder, free names.

Owns: :func:`ensure_demo_vm` (first start with an empty library: a "Demo" VM with a copy
of ``resources/guests/demo.img`` as floppy A:, created once -- a marker file in the library
root remembers it, so removing Demo does not bring it back), :func:`vm_from_image`,
:func:`add_existing` (copies the folder into the library), :func:`free_name` and
:func:`recover_tryouts` (what killed try-out sessions left, when the manager opens).
No Qt: plain functions over :class:`~vmgui.config.library.Library`.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from vmgui.config import tryout
from vmgui.config.library import CONFIG_FILE, TRYOUT_FOLDER, Library, LibraryError, VmEntry
from vmgui.config.schema import ILLEGAL_NAME_CHARS, Attachment, VmConfig, name_problems
from vmgui.core.profiles import all_profiles
from vmgui.storage import media
from vmgui.storage.cdimage import is_iso9660
from vmgui.storage.image import MAX_FLOPPY_BYTES

log = logging.getLogger(__name__)

ISO_VM_MEMORY_MB = 256  # a VM made from a dropped ISO: enough for a small installer
DEMO_NAME = "Demo"
DEMO_MARKER = ".demo-created"
DEMO_NOTES = ("The vmgui demo guest: a menu with a keyboard echo, a VGA picture, a clock "
              "and a COM1 greeting. Press Start to boot it.")


def free_name(library: Library, base: str) -> str:
    """``base`` made a legal VM name, with `` 2``, `` 3``... added until it is unused."""
    cleaned = "".join("_" if c in ILLEGAL_NAME_CHARS or ord(c) < 32 else c for c in base)
    cleaned = cleaned.strip(" .")[:90] or "VM"
    if name_problems(cleaned):
        cleaned = f"VM {cleaned}"[:90].strip(" .")
    name, n = cleaned, 1
    while name in library:
        n += 1
        name = f"{cleaned} {n}"
    return name


def ensure_demo_vm(library: Library, image: Path) -> VmEntry | None:
    """Create the Demo VM if the library is empty and never had one; else None."""
    if (library.root / DEMO_MARKER).exists() or library.entries() or not image.is_file():
        return None
    config = VmConfig(DEMO_NAME, notes=DEMO_NOTES, memory_mb=16, boot_order=["a", "c"],
                      floppy_a=Attachment("demo.img"))
    entry = library.create(config)
    try:
        media.copy_sparse(image, entry.folder / "demo.img")
    except media.MediaError:
        library.delete(entry.name)
        raise
    (library.root / DEMO_MARKER).touch()
    log.info("created the demo VM in %s", entry.folder)
    return entry


def is_floppy_sized(path: Path) -> bool:
    return path.stat().st_size <= MAX_FLOPPY_BYTES


def vm_from_image(library: Library, image: Path) -> VmEntry:
    """A new VM booting ``image`` (attached where it is): an ISO 9660 image goes into the
    CD/DVD drive of a machine that has one (booting it first, with more memory than a
    DOS machine needs), else floppy A: when it is floppy-sized, else hard disk C:.
    Named after the file."""
    image = Path(os.path.abspath(image))
    if not image.is_file():
        raise LibraryError(f"{image}: not a file")
    name = free_name(library, image.stem)
    cd_machines = [p for p in all_profiles() if p.cdrom]
    if is_iso9660(image) and cd_machines:
        machine = cd_machines[0]
        config = VmConfig(name, profile=machine.name, cdrom=Attachment(str(image), True),
                          boot_order=["d", "c"],
                          memory_mb=min(ISO_VM_MEMORY_MB, machine.max_memory_mb))
    elif is_floppy_sized(image):
        config = VmConfig(name, floppy_a=Attachment(str(image)), boot_order=["a", "c"])
    else:
        config = VmConfig(name, hard_disks=[Attachment(str(image))], boot_order=["c", "a"])
    return library.create(config)


def _without_tryout(top: Path):
    """A copytree filter leaving out the try-out session folder at the top (its overlays
    belong to the original folder)."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {TRYOUT_FOLDER} & set(names) if Path(folder) == top else set()
    return ignore


def add_existing(library: Library, folder: Path) -> VmEntry:
    """Copy the VM folder ``folder`` (with its vm.toml) into the library."""
    folder = Path(folder)
    if folder.name == CONFIG_FILE and folder.is_file():
        folder = folder.parent
    if not (folder / CONFIG_FILE).is_file():
        raise LibraryError(f"{folder}: not a VM folder (it has no {CONFIG_FILE})")
    if Path(os.path.abspath(folder)).parent == Path(os.path.abspath(library.root)):
        raise LibraryError(f"{folder}: already in the library")
    name = folder.name
    if name_problems(name):
        raise LibraryError(f"{folder}: the folder name cannot name a VM: "
                           + "; ".join(name_problems(name)))
    if name in library:
        raise LibraryError(f"a VM called {name!r} already exists; rename one of them first")
    target = library.root / name
    try:
        library.root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(folder, target, copy_function=media.copy_sparse, symlinks=True,
                        ignore=_without_tryout(folder))
    except (OSError, media.MediaError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise LibraryError(f"cannot copy {folder} into the library: {exc}") from exc
    return library.get(name)


def recover_tryouts(library: Library, running) -> list[str]:
    """Finish or discard the try-out sessions that a killed manager, ``vmgui run`` or VM
    process left in the library's VMs (:func:`vmgui.config.tryout.recover_tryout`);
    ``running(name)`` is True for VMs this manager runs (left alone, as are sessions of
    other live processes).  Returns the messages for the user (each is logged)."""
    messages = []
    try:
        entries = library.entries()
    except LibraryError:
        return []
    for entry in entries:
        if running(entry.name) or not tryout.session_folder(entry.folder).is_dir():
            continue
        try:
            message = tryout.recover_tryout(entry.folder)
        except tryout.TryoutBusyError as exc:
            log.info("%s", exc)
            continue
        except tryout.TryoutError as exc:
            log.warning("%s", exc)
            message = str(exc)
        except Exception:  # noqa: BLE001 - a leftover must not keep the manager from opening
            log.exception("%s: cannot recover its try-out session", entry.name)
            continue
        if message:
            messages.append(message)
    return messages
