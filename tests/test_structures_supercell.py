"""Supercells to a minimum perpendicular width, triclinic-aware, still valid."""
from __future__ import annotations

import numpy as np
import pytest

from zifsim.structures import build_material, make_supercell, repeats_for_width, validate_structure
from zifsim.geometry import perpendicular_widths
from zifsim.structures.supercell import standard_orientation


@pytest.fixture(scope="module")
def cu():
    return build_material("ZIF-Cu-1")


def _widths_reciprocal(atoms):
    """Independent: face spacing = 1 / |reciprocal vector| (ASE, no 2 pi)."""
    return 1.0 / np.linalg.norm(atoms.cell.reciprocal(), axis=1)


def test_widths_match_reciprocal_lattice(cu):
    assert np.allclose(perpendicular_widths(cu.atoms.cell), _widths_reciprocal(cu.atoms))
    # the triclinic cell (alpha = 61 deg) is thinner than its 16.0 Å edges
    widths, lengths = _widths_reciprocal(cu.atoms), cu.atoms.cell.lengths()
    assert np.all(widths <= lengths) and np.any(widths < 0.9 * lengths)


@pytest.mark.parametrize("width", [12.0, 24.0, 30.0])
def test_min_width_is_minimal_and_sufficient(cu, width):
    reps = np.array(repeats_for_width(cu.atoms, width))
    w = _widths_reciprocal(cu.atoms)
    assert np.all(reps * w >= width)                  # wide enough
    assert np.all((reps - 1) * w < width)             # and no larger than needed


def test_supercell_validates_and_scales(cu):
    cell = build_material("ZIF-Cu-1", min_width=24.0)
    reps = repeats_for_width(cu.atoms, 24.0)
    assert len(cell.atoms) == len(cu.atoms) * np.prod(reps)
    assert cell.report["passed"], cell.report["checks"]
    assert cell.report["density_gcm3"] == pytest.approx(cu.report["density_gcm3"], rel=1e-6)
    assert cell.report["tau4"]["mean"] == pytest.approx(cu.report["tau4"]["mean"], abs=1e-4)
    assert np.all(_widths_reciprocal(cell.atoms) >= 24.0)
    assert cell.provenance["supercell"]["min_width_A"] == 24.0


def test_explicit_supercell_zif62():
    cell = build_material("ZIF-62", supercell=(1, 1, 2))
    assert cell.report["counts"] == {"C": 224, "H": 208, "N": 128, "Zn": 32}
    assert cell.report["passed"] and cell.report["cn_counts"] == {"4": 32}


def test_standard_orientation_reduces_tilt(cu):
    """A sheared basis of the same lattice comes back LAMMPS-legal with the same volume."""
    atoms = cu.atoms.copy()
    sheared = atoms.cell.array.copy()
    sheared[2] += 2 * sheared[0] - sheared[1]
    atoms.set_cell(sheared, scale_atoms=False)
    std = standard_orientation(atoms)
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = std.cell.array
    assert abs(xy) <= lx / 2 + 1e-9 and abs(xz) <= lx / 2 + 1e-9 and abs(yz) <= ly / 2 + 1e-9
    assert std.get_volume() == pytest.approx(cu.atoms.get_volume())
    rep = validate_structure(std)
    assert rep["passed"] and rep["MN_distance_A"] == cu.report["MN_distance_A"]


def test_supercell_argument_errors(cu):
    from zifsim.errors import InputError
    with pytest.raises(InputError, match="either a supercell or a minimum width"):
        make_supercell(cu.atoms, (2, 2, 2), 20.0)
    with pytest.raises(InputError, match="must be positive"):
        repeats_for_width(cu.atoms, -1)
