"""Shared pytest fixtures: paths to third-party data, with clean skips when absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests run LAMMPS in-process on a 2-core machine: one OpenMP thread unless asked.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from zifsim import settings  # noqa: E402

ZNN_2016 = "ffield_ZnN_2016"


@pytest.fixture(scope="session")
def forcefield_dir() -> Path:
    """Folder with ReaxFF parameter files; skips the test when it is missing."""
    path = settings.forcefield_dir()
    if not (path / ZNN_2016).is_file():
        pytest.skip(f"ReaxFF parameter file {ZNN_2016} not found in {path} "
                    "(set ZIFSIM_FORCEFIELD_DIR or place ../shared/forcefields beside the checkout)")
    return path


@pytest.fixture(scope="session")
def znn_ffield(forcefield_dir) -> Path:
    """Path of ffield_ZnN_2016 (Yang et al. 2018); skips when absent."""
    return forcefield_dir / ZNN_2016


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Folder of third-party reference structures; skips the test when missing."""
    path = settings.reference_dir()
    if not (path / "structures").is_dir():
        pytest.skip(f"reference structures not found in {path} "
                    "(set ZIFSIM_REFERENCE_DIR or place ../shared/reference beside the checkout)")
    return path


from zifsim.potentials.base import ForceProvider  # noqa: E402


class SoftProvider(ForceProvider):
    """A fast stand-in force model for engine plumbing tests (lock, signals, paths): LAMMPS
    ``pair_style soft`` (a gentle cosine repulsion, 1.5 Å cutoff) for every element, real units.
    Not physics: ReaxFF on the same cell runs ~1000 times slower."""

    name, units, atom_style = "test:soft", "real", "charge"
    elements = ("C", "H", "N", "O", "Zn", "Cu", "Co", "Cd")

    def setup_commands(self, type_elements):
        return ["pair_style soft 1.5", "pair_coeff * * 2.0"]

    def metadata(self):
        return {"kind": "test-soft", "name": self.name}


@pytest.fixture
def soft_provider():
    """A :class:`SoftProvider` instance (fast, not physics)."""
    return SoftProvider()


NEQUIP_ZIF4 = "nequip_l2r6stress0.pth"


@pytest.fixture(scope="session")
def nequip_zif4_file() -> Path:
    """The deployed NequIP ZIF-4 model (Castel et al. 2024); skips when absent."""
    path = settings.forcefield_dir() / NEQUIP_ZIF4
    if not path.is_file():
        pytest.skip(f"deployed NequIP model {NEQUIP_ZIF4} not found in {settings.forcefield_dir()} "
                    "(set ZIFSIM_FORCEFIELD_DIR, or `zifsim forcefield fetch NequIP_ZIF4`)")
    return path
