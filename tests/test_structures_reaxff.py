"""Physics check of the built cells with ReaxFF (ffield_ZnN_2016) single points in LAMMPS.

* Lengthening the X-ray C-H (0.93 Å) to 1.08 Å lowers the ReaxFF energy and the
  forces on H: the cleaned cell is a better MD start than the raw CIF.
* ZIF-62 (4 bim inserted into ZIF-4) has no clash: its largest force is no
  larger than ZIF-4's.
"""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from zifsim.structures import build_material, read_structure
from zifsim.structures.io import core_mof_cif, lammps_data_text

ELEMENTS = ["C", "H", "N", "Zn"]


def single_point(atoms: Atoms, ffield, tmp_path, tag: str) -> tuple[float, np.ndarray, np.ndarray]:
    """(energy kcal/mol, |F| per atom kcal/mol/Å, LAMMPS type per atom) from pair_style reaxff."""
    from zifsim.lammps_loader import new_lammps
    path = tmp_path / f"{tag}.data"
    path.write_text(lammps_data_text(atoms, ELEMENTS))
    lmp = new_lammps()
    try:
        for cmd in ["units real", "atom_style charge", f"read_data {path}",
                    "pair_style reaxff NULL", f"pair_coeff * * {ffield} {' '.join(ELEMENTS)}",
                    "fix q all qeq/reaxff 1 0.0 10.0 1.0e-6 reaxff maxiter 400", "run 0"]:
            lmp.command(cmd)
        n = len(atoms)
        forces = np.linalg.norm(np.array(lmp.numpy.extract_atom("f"))[:n], axis=1)
        types = np.array(lmp.numpy.extract_atom("type"))[:n]
        return float(lmp.get_thermo("pe")), forces, types
    finally:
        lmp.close()


@pytest.fixture(scope="module")
def zif4():
    return build_material("ZIF-4")


def test_ch_lengthening_lowers_energy_and_h_forces(zif4, znn_ffield, tmp_path):
    raw = read_structure(core_mof_cif("VEJYUF01"))
    raw = Atoms(raw.get_chemical_symbols(), positions=raw.positions, cell=raw.cell, pbc=True)
    e_raw, f_raw, t_raw = single_point(raw, znn_ffield, tmp_path, "raw")
    e_new, f_new, t_new = single_point(zif4.atoms, znn_ffield, tmp_path, "clean")
    per_bond = (e_raw - e_new) / 96
    h_raw, h_new = f_raw[t_raw == 2].max(), f_new[t_new == 2].max()
    print(f"\nZIF-4 ReaxFF: E raw {e_raw:.1f}, cleaned {e_new:.1f} kcal/mol "
          f"({per_bond:.1f} per C-H); max |F| on H {h_raw:.1f} -> {h_new:.1f} kcal/mol/A")
    assert np.isfinite(e_new) and per_bond > 5.0
    assert h_new < 0.5 * h_raw


def test_zif62_has_no_clash(zif4, znn_ffield, tmp_path):
    zif62 = build_material("ZIF-62")
    e4, f4, _ = single_point(zif4.atoms, znn_ffield, tmp_path, "zif4")
    e62, f62, _ = single_point(zif62.atoms, znn_ffield, tmp_path, "zif62")
    print(f"\nReaxFF per atom: ZIF-4 {e4 / len(zif4.atoms):.2f}, ZIF-62 {e62 / len(zif62.atoms):.2f} "
          f"kcal/mol; max |F| {f4.max():.1f} vs {f62.max():.1f} kcal/mol/A")
    assert np.isfinite(e62)
    assert f62.max() <= 1.05 * f4.max()
    # the 24 added atoms (4 x C4H2) lower the energy: bonded, not clashing
    assert e62 < e4
