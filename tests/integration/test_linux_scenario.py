"""A scenario file boots Linux, runs ``ls /`` and takes a screenshot; two runs give
byte-identical PNGs (issue 11, "What it must show" 5).

docs/scenarios/linux.toml as a user runs it (``vmgui script``, deterministic by default),
with tests/linux_images.py's kernel and initramfs linked beside a copy of it where it
expects them.  Two boots of ~35 s each.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests import linux_images
from tests.conftest import ROOT
from tests.integration.test_scenario import vmgui_script

pytestmark = pytest.mark.slow
SCENARIO = ROOT / "docs" / "scenarios" / "linux.toml"
LISTING = ("bin", "dev", "etc", "init", "proc", "root", "sbin", "sys", "tmp", "usr")


@pytest.fixture(scope="module")
def linux():
    try:
        return linux_images.images()
    except linux_images.MissingInput as exc:
        pytest.skip(str(exc))


def test_the_docs_linux_scenario_gives_byte_identical_pngs(linux, tmp_path):
    kernel, initrd = linux
    (tmp_path / "linux").mkdir()
    (tmp_path / "linux" / "bzImage").symlink_to(kernel)
    (tmp_path / "linux" / "initramfs.cpio.gz").symlink_to(initrd)
    scenario = tmp_path / SCENARIO.name
    shutil.copyfile(SCENARIO, scenario)
    digests = []
    for n in (1, 2):
        out = tmp_path / f"run{n}"
        result = vmgui_script(scenario, "--out", out)
        assert result.returncode == 0, result.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert [i["file"] for i in manifest["images"]] == ["linux-ls.png", "linux-ls.txt"]
        digests.append([i["sha256"] for i in manifest["images"]])
    screen = (tmp_path / "run1" / "linux-ls.txt").read_text()
    command = screen.rindex("vmgui-linux# ls /")
    assert all(name in screen[command:].split() for name in LISTING), screen
    assert digests[0] == digests[1]
