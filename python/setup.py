"""setuptools glue for pyproject.toml: bundle libattn.so into the package when built from a
checkout, so `import attn` needs no environment variable.

From a checkout (this directory's parent holds the Makefile), `make lib` is run there (a no-op
when build/ is up to date) and build/libattn.so is copied to attn/_libs/; the wheel is then
platform-specific. ATTN_BUNDLE=0 skips this: the package then loads the installed libattn
(pkg-config or the loader's search path; see attn/_lib.py). Elsewhere (an sdist) nothing is
bundled.
"""
import os
import shutil
import subprocess

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _bundling():
    """True when building from a checkout (this directory's parent holds the Makefile and
    src/) and ATTN_BUNDLE is not 0."""
    return (os.environ.get("ATTN_BUNDLE", "1") != "0" and
            os.path.isfile(os.path.join(ROOT, "Makefile")) and
            os.path.isdir(os.path.join(ROOT, "src")))


def _checkout_library():
    """Path of the checkout's freshly made libattn.so (make lib: a no-op when up to date)."""
    subprocess.run(["make", "-C", ROOT, "-j2", "lib"], check=True, stdout=subprocess.DEVNULL)
    so = os.path.join(ROOT, "build", "libattn.so")
    if not os.path.isfile(so):
        raise RuntimeError(f"make lib did not produce {so}")
    return so


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if _bundling():
            dest = os.path.join(self.build_lib, "attn", "_libs")
            os.makedirs(dest, exist_ok=True)
            shutil.copy2(_checkout_library(), os.path.join(dest, "libattn.so"))


class BinaryDistribution(Distribution):
    """A bundled shared library makes the wheel specific to the platform."""

    def has_ext_modules(self):
        return _bundling()


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
