"""Hydrogen completion: stripped H come back where the crystal had them, at ideal C-H lengths."""
from __future__ import annotations

import numpy as np
import pytest
from ase.geometry import get_distances
from ase.neighborlist import neighbor_list

from zifsim.errors import StructureError
from zifsim.structures import build_material
from zifsim.structures.linkers import complete_hydrogens


def _strip(atoms, keep=lambda i: False):
    out = atoms.copy()
    sym = out.get_chemical_symbols()
    del out[[i for i, s in enumerate(sym) if s == "H" and not keep(i)]]
    return out


def _h(atoms):
    return atoms.positions[np.array(atoms.get_chemical_symbols()) == "H"]


@pytest.mark.parametrize("name,n_h", [("ZIF-4", 96), ("ZIF-8", 60), ("ZIF-70", 132)])
def test_stripped_h_restored(name, n_h):
    """Aromatic H within 0.02 Å of the (lengthened) crystal H; methyl H rebuilt tetrahedral."""
    cell = build_material(name)
    bare = _strip(cell.atoms)
    restored, stats = complete_hydrogens(bare)
    assert stats["added"] == n_h
    assert restored.get_chemical_formula() == cell.atoms.get_chemical_formula()
    _, d = get_distances(_h(restored), _h(cell.atoms), cell=cell.atoms.cell, pbc=True)
    nearest = d.min(axis=1)
    i, j, dist = neighbor_list("ijd", restored, 1.2)
    sym = np.array(restored.get_chemical_symbols())
    ch = (sym[i] == "C") & (sym[j] == "H")
    assert ch.sum() == n_h
    if name == "ZIF-8":
        # methyl H: same C-H length and H-C-H angles, rotation about C-C is a free choice
        assert np.allclose(sorted(set(np.round(dist[ch], 4))), [1.08, 1.09])
        c_methyl = [c for c in set(i[ch]) if (j[ch][i[ch] == c]).size == 3]
        assert len(c_methyl) == 12
        for c in c_methyl:
            hs = j[(i == c) & (sym[j] == "H")]
            v = np.array([restored.get_distance(c, h, mic=True, vector=True) for h in hs])
            cos = (v @ v.T)[np.triu_indices(3, 1)] / 1.09 ** 2
            assert np.allclose(np.degrees(np.arccos(cos)), 109.47, atol=0.1)
        aromatic = nearest[np.argsort(nearest)[:24]]
        assert aromatic.max() < 0.02
    else:
        print(f"{name}: max displacement of restored H {nearest.max():.4f} Å")
        assert nearest.max() < 0.02
        assert np.allclose(dist[ch], 1.08)


def test_incomplete_methyl_rebuilt_whole():
    cell = build_material("ZIF-8")
    atoms = cell.atoms.copy()
    i, j = neighbor_list("ij", atoms, 1.2)
    sym = np.array(atoms.get_chemical_symbols())
    counts = np.bincount(i[(sym[i] == "C") & (sym[j] == "H")], minlength=len(atoms))
    methyl = int(np.flatnonzero(counts == 3)[0])
    h_one = int(j[(i == methyl) & (sym[j] == "H")][0])
    del atoms[h_one]
    fixed, stats = complete_hydrogens(atoms)
    assert stats["added"] == 1 and stats["rebuilt_methyl"] == 1
    assert fixed.get_chemical_formula() == cell.atoms.get_chemical_formula()


def test_extra_h_on_aromatic_carbon_refused():
    cell = build_material("ZIF-4")
    atoms = cell.atoms.copy()
    i, j, D = neighbor_list("ijD", atoms, 1.2)
    sym = np.array(atoms.get_chemical_symbols())
    k = np.flatnonzero((sym[i] == "C") & (sym[j] == "H"))[0]
    c, v = i[k], D[k]
    perp = np.cross(v, [0.0, 0.0, 1.0])
    atoms += atoms[[j[k]]]
    atoms.positions[-1] = atoms.positions[c] + 1.08 * perp / np.linalg.norm(perp)
    with pytest.raises(StructureError, match=rf"C{c + 1} carries 2 H but can take only 1"):
        complete_hydrogens(atoms, source="test")
