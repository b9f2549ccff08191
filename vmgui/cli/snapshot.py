"""``vmgui snapshot``, ``vmgui export`` and ``vmgui import``: snapshots and VM archives.

Owns: the command lines over :mod:`vmgui.config.snapshots` (take / restore / delete /
list / discard-state of a powered-off library VM) and :mod:`vmgui.config.archive`, and
their exit status: 0 done, 2 bad usage or input (unknown VM or snapshot, VM running or
inaccessible, no saved state to discard, damaged, missing or clashing archive, an export
target that exists without --force or is not a regular file), always as
a one-line message (errors are :class:`vmgui.cli.library.CliError`).  The VM's run lock
is held while its snapshots change or it is exported, so nothing starts it meanwhile.
``vmgui clone --snapshot`` lives with ``clone`` in :mod:`vmgui.cli.library`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from vmgui.cli import library as library_cli
from vmgui.cli.library import CliError
from vmgui.config import archive, snapshots
from vmgui.config.library import Library, VmEntry

log = logging.getLogger(__name__)

EXIT_OK, EXIT_USAGE = 0, 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snapshot", help="take, restore, delete or list a VM's snapshots",
                       description="Snapshots of a powered-off library VM: its disks (through "
                                   "copy-on-write overlays) and, if it was saved, its state.")
    p.add_argument("name", help="the VM")
    verbs = p.add_subparsers(dest="verb", required=True)
    v = verbs.add_parser("take", help="take a snapshot of the current state")
    v.add_argument("snap", help="the snapshot's name")
    v.add_argument("--description", default="", help="a note kept with it")
    v.add_argument("--thumbnail", type=Path, help="a PNG to keep with it")
    v = verbs.add_parser("restore", help="go back to a snapshot (the changes since the "
                                         "last snapshot are discarded)")
    v.add_argument("snap", help="snapshot name or id")
    v = verbs.add_parser("delete", help="delete a snapshot (its disk changes merge into "
                                        "its child)")
    v.add_argument("snap", help="snapshot name or id")
    verbs.add_parser("list", help="the snapshot tree, the current state marked")
    verbs.add_parser("discard-state", help="delete the VM's saved state (the next start "
                                           "boots afresh)")
    p.set_defaults(handler=snapshot_command)

    p = sub.add_parser("export", help="write a VM (disks, snapshots, saved state) to one file",
                       description="Write a powered-off VM to a tar archive with a sha256 "
                                   "manifest. An existing FILE is refused unless --force.")
    p.add_argument("name", help="the VM")
    p.add_argument("file", type=Path, help="the archive to write")
    p.add_argument("--force", action="store_true",
                   help="replace FILE if it exists (only a regular file: never a device, "
                        "FIFO, socket or folder)")
    p.set_defaults(handler=export_command)

    p = sub.add_parser("import", help="add a VM from an archive made by 'vmgui export'",
                       description="Verify every checksum, then add the VM to the library.")
    p.add_argument("file", type=Path, help="the archive")
    p.add_argument("--name", help="import under this name (default: the archived VM's)")
    p.set_defaults(handler=import_command)


def _guarded(verb: str, body: Callable[[argparse.Namespace, Library], None],
             args: argparse.Namespace) -> int:
    return library_cli._guarded(verb, body, args, (snapshots.SnapshotError,
                                                   archive.ArchiveError, OSError))


@contextlib.contextmanager
def _powered_off(entry: VmEntry, doing: str) -> Iterator[None]:
    """While the body runs the VM is accessible, powered off and stays so (its run lock
    is held); else :class:`CliError`."""
    if entry.config is None:
        raise CliError(f"VM {entry.name!r} is inaccessible: {entry.error}")
    with library_cli.powered_off(entry, doing):
        yield


def snapshot_command(args: argparse.Namespace) -> int:
    return _guarded("snapshot", _snapshot, args)


def _snapshot(args: argparse.Namespace, library: Library) -> None:
    entry = library.get(args.name)
    if args.verb == "list":
        print_tree(snapshots.Snapshots(entry.folder))
        return
    with _powered_off(entry, "changing its snapshots"):
        _change(args, entry, snapshots.Snapshots(entry.folder))


def _change(args: argparse.Namespace, entry: VmEntry, tree: snapshots.Snapshots) -> None:
    if args.verb == "take":
        snap = tree.take(args.snap, args.description, thumbnail=args.thumbnail)
        with_state = " (with its saved state)" if snap.state else ""
        print(f"Took snapshot {snap.name!r} of {entry.name!r}{with_state}")
    elif args.verb == "restore":
        snap = tree.restore(args.snap)
        state = "; the next start resumes its saved state" if snap.state else ""
        print(f"Restored {entry.name!r} to snapshot {snap.name!r}{state}")
    elif args.verb == "delete":
        snap = tree.get(args.snap)
        tree.delete(snap.id)
        print(f"Deleted snapshot {snap.name!r} of {entry.name!r}")
    elif args.verb == "discard-state":
        path = snapshots.saved_state_path(entry.folder)
        if not path.exists():
            raise CliError(f"VM {entry.name!r} has no saved state")
        path.unlink()
        print(f"Discarded the saved state of {entry.name!r}")


def print_tree(tree: snapshots.Snapshots) -> None:
    nodes = tree.list()
    if not nodes:
        print("No snapshots")
        return
    for node in nodes:
        s = node.snapshot
        mark = "*" if node.is_current else " "
        extra = ", saved state" if s.state else ""
        desc = f" - {s.description}" if s.description else ""
        print(f"{mark} {'  ' * node.depth}{s.name}  [{s.id[:8]}, {s.created}{extra}]{desc}")
        if node.is_current:
            print(f"  {'  ' * (node.depth + 1)}(current state)")
    print("(* = the snapshot the current state grows from)")


def export_command(args: argparse.Namespace) -> int:
    return _guarded("export", _export, args)


def _export(args: argparse.Namespace, library: Library) -> None:
    entry = library.get(args.name)
    try:
        with _powered_off(entry, "exporting it"):
            archive.export_vm(library, entry.name, args.file, force=args.force)
    except archive.TargetExistsError as exc:
        raise CliError(f"{exc} (--force replaces it)") from None
    print(f"Exported {entry.name!r} to {args.file}")


def import_command(args: argparse.Namespace) -> int:
    return _guarded("import", _import, args)


def _import(args: argparse.Namespace, library: Library) -> None:
    # the archive says itself what is wrong: "no such file", "is a FIFO, not an
    # archive file" (no longer "no such file" for everything but a regular file)
    entry = archive.import_vm(library, args.file, args.name)
    print(f"Imported {entry.name!r} into {entry.folder}")
