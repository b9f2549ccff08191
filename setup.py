"""Build the optional native block hook (vmgui.core._stophook).

Everything else is declared in pyproject.toml.  If no C compiler is available the build
still succeeds and vmgui falls back to a pure-Python slicing stop (it logs that it did).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            print(f"warning: native stop hook not built ({exc}); vmgui will use slicing")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"warning: native stop hook not built ({exc}); vmgui will use slicing")


setup(
    ext_modules=[Extension("vmgui.core._stophook", ["vmgui/core/_stophook.c"], optional=True)],
    cmdclass={"build_ext": OptionalBuildExt},
)
