"""The machine profile table: names, lookups, and the configuration layer using it."""

from __future__ import annotations

import dataclasses

import pytest

from vmgui.config.schema import VmConfig
from vmgui.core.profiles import DEFAULT_PROFILE, all_profiles, get_profile, profile_names


def test_both_machine_kinds_are_in_the_table():
    assert profile_names() == ("pc-at", "pc-pci")
    assert DEFAULT_PROFILE == "pc-at"
    at, pci = get_profile("pc-at"), get_profile("pc-pci")
    assert not (at.pci or at.vbe or at.cdrom)
    assert pci.pci and pci.vbe and pci.cdrom
    assert pci.max_memory_mb >= 2048


def test_every_profile_has_the_at_devices_at_their_ports():
    for profile in all_profiles():
        assert profile.device("pic").port == 0x20
        assert profile.device("pit").irqs == (0,)
        assert profile.device("i8042").irqs == (1, 12)
        assert profile.device("uart").port == 0x3F8
        assert profile.device("nothing-like-this") is None


def test_an_unknown_profile_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"'pc-xt' is unknown \(known: pc-at, pc-pci\)"):
        get_profile("pc-xt")


def test_the_table_cannot_be_changed():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_profile("pc-at").pci = True  # type: ignore[misc]


def test_vm_config_accepts_the_profiles_and_passes_them_on(tmp_path):
    config = VmConfig(name="P", profile="pc-pci")
    assert config.validate() == []
    assert config.to_machine_config(tmp_path).profile == "pc-pci"
    assert any("pc-xt" in p for p in VmConfig(name="P", profile="pc-xt").validate())
