"""Cell files: LAMMPS reads cell.data; extxyz / CIF / data round-trip; output is deterministic."""
from __future__ import annotations

import numpy as np
import pytest

from zifsim.structures import CELL_FILES, build_material, read_structure
from zifsim.structures.io import check_type_order, lammps_data_text


@pytest.fixture(scope="module")
def cu_cell():
    """ZIF-Cu-1: a small rhombohedral (triclinic in LAMMPS) cell, 102 atoms."""
    return build_material("ZIF-Cu-1", elements=["C", "H", "N", "O", "Cu"])


@pytest.fixture(scope="module")
def written(cu_cell, tmp_path_factory):
    out = tmp_path_factory.mktemp("cu")
    cu_cell.write(out)
    return out


def _box(lmp):
    lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
    return np.array(hi) - np.array(lo), (xy, xz, yz)


def test_lammps_reads_data_file(cu_cell, written):
    """read_data through the Python module: atom count, box, types and masses as written."""
    from zifsim.lammps_loader import new_lammps
    lmp = new_lammps()
    try:
        for cmd in ("units real", "atom_style charge", "boundary p p p",
                    f"read_data {written / 'cell.data'}"):
            lmp.command(cmd)
        assert lmp.get_natoms() == len(cu_cell.atoms) == 102
        lengths, (xy, xz, yz) = _box(lmp)
        cell = cu_cell.atoms.cell
        assert np.allclose(lengths, [cell[0, 0], cell[1, 1], cell[2, 2]], atol=1e-6)
        assert np.allclose([xy, xz, yz], [cell[1, 0], cell[2, 0], cell[2, 1]], atol=1e-6)
        volume = lengths.prod()
        assert volume == pytest.approx(cu_cell.atoms.get_volume(), rel=1e-8)
        assert lmp.extract_global("ntypes") == 5          # C H N O Cu, O type empty
        types = np.array(lmp.numpy.extract_atom("type"))[:102]
        sym = np.array(cu_cell.atoms.get_chemical_symbols())
        order = ["C", "H", "N", "O", "Cu"]
        ids = np.array(lmp.numpy.extract_atom("id"))[:102]
        assert all(order[t - 1] == sym[i - 1] for t, i in zip(types, ids))
        mass = np.array(lmp.numpy.extract_atom("mass"))
        assert mass[5] == pytest.approx(63.546, abs=1e-3)  # Cu is type 5
        assert np.allclose(np.array(lmp.numpy.extract_atom("q"))[:102], 0.0)
    finally:
        lmp.close()


def test_zif4_orthorhombic_box(tmp_path):
    from zifsim.lammps_loader import new_lammps
    cell = build_material("ZIF-4")
    cell.write(tmp_path)
    text = (tmp_path / "cell.data").read_text()
    assert "xy xz yz" not in text  # orthogonal cell stays orthogonal
    lmp = new_lammps()
    try:
        for cmd in ("units real", "atom_style charge", f"read_data {tmp_path / 'cell.data'}"):
            lmp.command(cmd)
        assert lmp.get_natoms() == 272
        lengths, _ = _box(lmp)
        assert np.allclose(lengths, [15.379, 15.449, 18.407], atol=1e-8)
    finally:
        lmp.close()


@pytest.mark.parametrize("fname", ["cell.data", "cell.extxyz", "cell.cif"])
def test_round_trip(cu_cell, written, fname):
    """Every file reads back to the same cell and positions (ASE readers, 1e-5 Å)."""
    back = read_structure(written / fname)
    a = cu_cell.atoms
    assert back.get_chemical_symbols() == a.get_chemical_symbols()
    assert np.allclose(back.cell.cellpar(), a.cell.cellpar(), atol=1e-5)
    d = back.cell.scaled_positions(back.positions) - a.cell.scaled_positions(a.positions)
    d -= np.round(d)
    assert np.abs(d @ np.asarray(a.cell)).max() < 1e-5


def test_validation_json_contents(written):
    import json
    rep = json.loads((written / "validation.json").read_text())
    assert rep["passed"] and rep["type_elements"] == ["C", "H", "N", "O", "Cu"]
    assert rep["provenance"]["source"] == "core_mof:CUIMDZ01_clean_h"
    assert len(rep["provenance"]["sha256"]) == 64
    assert set(rep["per_metal"][0]) >= {"cn", "mn_A", "tau4"}
    assert rep["largest_MN_gap_A"] == max(max(m["mn_A"]) for m in rep["per_metal"])


def test_writing_is_deterministic(cu_cell, written, tmp_path):
    again = build_material("ZIF-Cu-1", elements=["C", "H", "N", "O", "Cu"])
    again.write(tmp_path)
    for fname in CELL_FILES:
        assert (tmp_path / fname).read_bytes() == (written / fname).read_bytes(), fname


def test_failed_write_leaves_nothing(cu_cell, tmp_path):
    """A type list missing an element fails before any file exists."""
    from zifsim.errors import InputError
    with pytest.raises(InputError, match=r"contains Cu but the type list C,H,N does not"):
        cu_cell.write(tmp_path / "out", elements=["C", "H", "N"])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_type_order_checks(cu_cell):
    from zifsim.errors import InputError
    assert check_type_order(cu_cell.atoms, None) == ["C", "Cu", "H", "N"]
    with pytest.raises(InputError, match="unknown element"):
        check_type_order(cu_cell.atoms, ["C", "H", "N", "Cu", "Xy"])
    text = lammps_data_text(cu_cell.atoms, ["Cu", "N", "H", "C"])
    assert "1 63.546000 # Cu" in text and "4 12.011000 # C" in text


def test_cell_read_back(cu_cell, written):
    from zifsim.structures import Cell
    back = Cell.read(written)
    assert back.name == "ZIF-Cu-1" and back.elements == ["C", "H", "N", "O", "Cu"]
    import json
    assert back.report == json.loads(json.dumps(cu_cell.report))
    assert back.provenance["source"] == cu_cell.provenance["source"]
    assert np.allclose(back.atoms.positions, cu_cell.atoms.positions, atol=1e-6)
