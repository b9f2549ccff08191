"""Scenario files that boot a kernel directly and drive its serial console
(vmgui.automation.scenario: [vm] kernel/initrd/append/machine, the ``serial`` and
``wait_serial`` verbs), with the tiny bzImage tests/guests/bzhello.img; bad ones are
refused before anything starts, naming the file."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_GUESTS
from vmgui.automation import scenario
from vmgui.automation.session import AutomationTimeout

BZHELLO = TEST_GUESTS / "bzhello.img"


def write(tmp_path, vm: str, steps: str = '[[step]]\nsleep = 0.1\n'):
    path = tmp_path / "linux.toml"
    path.write_text(f"[vm]\n{vm}\n\n{steps}")
    return path


def test_a_kernel_scenario_boots_it_with_its_command_line(tmp_path):
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "vmlinuz").write_bytes(BZHELLO.read_bytes())
    path = write(tmp_path, 'kernel = "boot/vmlinuz"\nappend = "console=ttyS0 quiet"\n'
                           'machine = "pc-pci"',
                 '[[step]]\nwait_serial = "cmdline=console=ttyS0 quiet"\ntimeout = 5\n\n'
                 '[[step]]\nwait_text = "kernel=PMOK"\n\n'
                 '[[step]]\nserial = "ls /\\n"\n\n'
                 '[[step]]\ndump_text = "screen.txt"\n')
    loaded = scenario.load(path)
    assert loaded.image is None and loaded.kernel == (tmp_path / "boot" / "vmlinuz")
    assert (loaded.memory_mb, loaded.machine) == (scenario.KERNEL_MEMORY_MB, "pc-pci")
    scenario.run(loaded, tmp_path / "out", log=lambda line: None)
    assert "cmdline=console=ttyS0 quiet" in (tmp_path / "out" / "screen.txt").read_text()


def test_wait_serial_times_out_naming_the_step(tmp_path):
    path = write(tmp_path, f'kernel = "{BZHELLO}"',
                 '[[step]]\nwait_serial = "never said"\ntimeout = 0.5\n')
    with pytest.raises(AutomationTimeout, match=r"linux.toml:4: step 1 \(wait_serial\)"):
        scenario.run(scenario.load(path), tmp_path / "out", log=lambda line: None)


@pytest.mark.parametrize(("vm", "steps", "message"), [
    ('kernel = "nowhere/bzImage"', "", "[vm]: kernel {tmp}/nowhere/bzImage does not exist"),
    (f'image = "{BZHELLO}"\ninitrd = "{BZHELLO}"', "",
     "[vm]: an initrd was given without a kernel to boot"),
    (f'kernel = "{BZHELLO}"\nmachine = "pc-xt"', "", "[vm]: machine profile 'pc-xt'"),
    (f'kernel = "{TEST_GUESTS / "echo.img"}"', "", "too short for a Linux kernel"),
    (f'kernel = "{BZHELLO}"\nappend = 3', "", "[vm]: append = 3 is not a str"),
    (f'kernel = "{BZHELLO}"', '[[step]]\nserial = 5\n', "step 1: serial: 5 is not a text"),
    (f'kernel = "{BZHELLO}"', '[[step]]\nwait_serial = ""\n', "wait_serial: '' is not a text"),
    ('memory = 16', "", "[vm]: 'image' (or 'kernel') is required"),
])
def test_bad_kernel_scenarios_are_refused_before_anything_runs(tmp_path, vm, steps, message):
    path = write(tmp_path, vm, steps or '[[step]]\nsleep = 0.1\n')
    with pytest.raises(scenario.ScenarioError) as info:
        scenario.load(path)
    assert message.format(tmp=tmp_path) in str(info.value)
    assert str(path) in str(info.value)
