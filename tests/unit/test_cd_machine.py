"""A pc-pci machine's CD drive as the run loop sees it: media changes while running
(the ChangeMedia command, answered by MediaChanged) and saved states taken while the
machine runs from a CD's emulated floppy.  Machines are built and powered on; commands
are drained as the run loop drains them, without running guest code."""

from __future__ import annotations

import pytest

from tests import isos
from vmgui.core import events as ev
from vmgui.core import snapshot
from vmgui.core.machine import Machine, MachineConfig

FLOPPY = b"\xfa\xf4" + bytes(508) + b"\x55\xaa" + bytes(1474560 - 512)


@pytest.fixture
def files(tmp_path):
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(2, count=1))
    emu = tmp_path / "fd.iso"
    emu.write_bytes(isos.build_iso(image=b"\xeb\xfe" + bytes(1474558), catalog_sector=cat))
    data = tmp_path / "data.iso"
    data.write_bytes(isos.build_iso(boot=False, volume_id="DATA"))
    floppy = tmp_path / "a.img"
    floppy.write_bytes(FLOPPY)
    other = tmp_path / "b.img"
    other.write_bytes(FLOPPY)
    notiso = tmp_path / "x.img"
    notiso.write_bytes(FLOPPY)
    return {"emu": emu, "data": data, "floppy": floppy, "other": other, "notiso": notiso}


def machine(**config) -> tuple[Machine, list]:
    events: list = []
    m = Machine(MachineConfig(profile="pc-pci", native_stop=False, **config),
                on_event=events.append)
    m.power_on()
    return m, events


def change(m: Machine, events: list, drive: str, path) -> ev.MediaChanged:
    m.send(ev.ChangeMedia(drive, None if path is None else str(path)))
    m._drain_commands()  # as the run loop does between engine runs
    return [e for e in events if isinstance(e, ev.MediaChanged)][-1]


def test_insert_and_eject_the_cd(files):
    m, events = machine()
    try:
        assert change(m, events, "cdrom", files["data"]) == ev.MediaChanged(
            "cdrom", str(files["data"]), None)
        assert m.bios.cdrom.image.volume_id == "DATA" and m.drives[0xE0] is m.bios.cdrom.image
        first = m.bios.cdrom.image
        assert change(m, events, "cdrom", None) == ev.MediaChanged("cdrom", None, None)
        assert m.bios.cdrom.image is None and m.drives[0xE0] is None and first.closed
    finally:
        m.close()


@pytest.mark.parametrize("name,error", [
    ("notiso", "x.img is not an ISO 9660 CD image (no CD001 volume descriptor at sector 16)"),
    ("missing", "missing.iso: no such file"),
])
def test_a_bad_cd_is_refused_and_the_old_one_stays(files, name, error):
    m, events = machine(cdrom=files["data"])
    try:
        path = files.get(name, files["data"].parent / "missing.iso")
        answer = change(m, events, "cdrom", path)
        assert answer.error is not None and answer.error.endswith(error)
        assert m.bios.cdrom.image.volume_id == "DATA"
    finally:
        m.close()


def test_swapping_a_floppy_raises_its_change_line(files):
    m, events = machine(floppies=(files["floppy"],))
    try:
        assert change(m, events, "floppy-a", files["other"]).error is None
        assert m.drives[0].path == files["other"] and m.bios.disk.drive(0) is m.drives[0]
        assert 0 in m.bios.disk._changed  # int 13h AH=16h answers 06h once
        assert change(m, events, "floppy-a", None).error is None
        assert m.bios.disk.drive(0) is None and 0 in m.drives
    finally:
        m.close()


def test_drives_the_machine_does_not_have(files):
    m, events = machine(floppies=(files["floppy"],))
    try:
        assert "this machine has no floppy drive B:" in change(
            m, events, "floppy-b", files["other"]).error
        assert "unknown drive 'zip'" in change(m, events, "zip", files["other"]).error
    finally:
        m.close()
    events = []
    at = Machine(MachineConfig(native_stop=False), on_event=events.append)
    try:
        at.send(ev.ChangeMedia("cdrom", str(files["data"])))
        at._drain_commands()
        assert events[-1].error.startswith("the pc-at machine has no CD drive")
    finally:
        at.close()


def test_saved_state_keeps_the_emulated_floppy(files, tmp_path):
    m, _ = machine(cdrom=files["emu"], boot_order=("d",))
    state = tmp_path / "s.state"
    try:
        assert m.bios.disk.emulated is not None
        snapshot.save(m, state)
    finally:
        m.close()
    again, _ = machine(cdrom=files["emu"], boot_order=())  # POST boots nothing here
    try:
        assert again.bios.disk.emulated is None
        snapshot.load(again, state)
        assert again.bios.disk.emulated is not None and again.bios.cdrom.booted.emulating
    finally:
        again.close()
    empty, _ = machine(boot_order=())
    try:  # the disc it emulated from is not there: refused, nothing changed
        with pytest.raises(snapshot.RestoreError, match="saved with drives"):
            snapshot.load(empty, state)
    finally:
        empty.close()
