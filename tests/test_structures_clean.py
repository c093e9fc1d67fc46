"""Cleaning: guests removed as unbound components, disorder resolved by the major-component rule."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from zifsim.errors import StructureError
from zifsim.structures import build_from_file, build_material
from zifsim.structures.linkers import find_linkers


@pytest.fixture(scope="module")
def zif4():
    return build_material("ZIF-4")


def _cif(atoms: Atoms, occupancy, path):
    a, b, c, al, be, ga = atoms.cell.cellpar()
    frac = atoms.get_scaled_positions()
    lines = ["data_test", f"_cell_length_a {a:.6f}", f"_cell_length_b {b:.6f}", f"_cell_length_c {c:.6f}",
             f"_cell_angle_alpha {al:.6f}", f"_cell_angle_beta {be:.6f}", f"_cell_angle_gamma {ga:.6f}",
             "_symmetry_space_group_name_H-M 'P 1'", "loop_", "_atom_site_label", "_atom_site_type_symbol",
             "_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z", "_atom_site_occupancy"]
    for k, (s, f, o) in enumerate(zip(atoms.get_chemical_symbols(), frac, occupancy)):
        lines.append(f"{s}{k + 1} {s} {f[0]:.6f} {f[1]:.6f} {f[2]:.6f} {o}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_guests_removed(zif4, tmp_path):
    """Two water molecules and a free imidazole in the pores come out; the framework is untouched."""
    atoms = zif4.atoms.copy()
    # find two empty points: far (> 3 Å) from every framework atom
    from ase.geometry import get_distances
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 9, endpoint=False)] * 3), -1).reshape(-1, 3)
    _, d = get_distances(atoms.cell.cartesian_positions(grid), atoms.positions, cell=atoms.cell, pbc=True)
    empty = atoms.cell.cartesian_positions(grid[np.argsort(-d.min(axis=1))[:40]])
    water = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    guests = Atoms(cell=atoms.cell, pbc=True)
    picked = [empty[0]]
    for p in empty[1:]:
        if all(np.linalg.norm(p - q) > 6 for q in picked):
            picked.append(p)
    assert len(picked) >= 2, "no room for two guests"
    for p in picked[:2]:
        guests += Atoms(water.get_chemical_symbols(), positions=water.positions + p)
    path = _cif(atoms + guests, [1] * (len(atoms) + len(guests)), tmp_path / "zif4_wet.cif")
    cell = build_from_file(path)
    assert cell.provenance["steps"]["guests_removed"] == {"H2O": 2}
    assert cell.report["counts"] == zif4.report["counts"] and cell.report["passed"]


def test_disorder_major_component(zif4, tmp_path):
    """One im on two positions (0.7 / 0.3): refused by default, resolved by --disorder major."""
    atoms = zif4.atoms.copy()
    lk = find_linkers(atoms)[0]
    minor = atoms[lk.indices]
    # the minor component: same linker rotated by 20 deg about its N...N axis (N shared)
    ring = lk.ring
    n1, n3 = atoms.positions[ring["N1"]], atoms.positions[ring["N3"]]
    axis = (n3 - n1) / np.linalg.norm(n3 - n1)
    minor.rotate(20, axis, center=n1)
    keep_n = [k for k, i in enumerate(lk.indices) if atoms[i].symbol != "N"]
    minor = minor[keep_n]
    occ = np.ones(len(atoms))
    occ[[i for i in lk.indices if atoms[i].symbol != "N"]] = 0.7
    path = _cif(atoms + minor, list(occ) + [0.3] * len(minor), tmp_path / "zif4_disordered.cif")
    with pytest.raises(StructureError, match=r"zif4_disordered\.cif \(_atom_site_occupancy\): .* partial occupancy"):
        build_from_file(path)
    cell = build_from_file(path, disorder="major")
    assert cell.provenance["steps"]["disorder"]["dropped"] == len(minor)
    assert cell.report["passed"] and cell.report["counts"] == zif4.report["counts"]
    # the kept atoms are the major (0.7) positions
    sym = cell.atoms.get_chemical_symbols()
    assert sym == zif4.atoms.get_chemical_symbols()


def test_isolated_partial_site_refused(zif4, tmp_path):
    atoms = zif4.atoms.copy()
    occ = np.ones(len(atoms))
    occ[0] = 0.5  # a half Zn with no alternative position
    path = _cif(atoms, occ, tmp_path / "half_zn.cif")
    with pytest.raises(StructureError, match=r"site Zn1 .* has occupancy 0\.50 and no alternative position"):
        build_from_file(path, disorder="major")


def test_symmetric_cif_expanded(zif4, tmp_path):
    """A Pbca CIF of ZIF-4 (asymmetric unit only, written by pymatgen) expands to the same cell."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.cif import CifWriter
    path = tmp_path / "zif4_pbca.cif"
    CifWriter(AseAtomsAdaptor.get_structure(zif4.atoms), symprec=0.01).write_file(path)
    text = path.read_text()
    assert "Pbca" in text and text.count(" Zn ") < 16  # really symmetry-reduced
    cell = build_from_file(path)
    assert cell.report["passed"] and cell.report["counts"] == zif4.report["counts"]
    assert cell.report["density_gcm3"] == pytest.approx(zif4.report["density_gcm3"], rel=1e-5)
