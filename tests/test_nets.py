"""Net-built cells (zifsim.structures.nets): net data, decoration, cache; no MLIP needed."""
from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.lj import LennardJones
from ase.neighborlist import neighbor_list

from zifsim.errors import ConfigError
from zifsim.structures import nets
from zifsim.structures.chemistry import mn_bond


@pytest.mark.parametrize("net, n_vertices, n_edges", [("dia", 2, 4), ("dia-c", 4, 8), ("zni", 16, 32)])
def test_net_vertices_are_4_connected_with_unit_edges(net, n_vertices, n_edges):
    cell, frac, edges = nets.net_vertices(net, edge=6.0)
    assert len(frac) == n_vertices and len(edges) == n_edges
    lengths = np.linalg.norm((frac[edges[:, 1]] + edges[:, 2:] - frac[edges[:, 0]]) @ cell, axis=1)
    assert lengths == pytest.approx(6.0, rel=0.02)
    degree = np.bincount(edges[:, :2].ravel(), minlength=len(frac))
    assert np.all(degree == 4)


def test_rcsr_coordinates_give_unit_edges_in_the_conventional_cell():
    """The stored RCSR numbers themselves: dia 8 vertices, zni 32, every vertex 4 edges of length 1."""
    for net, n in (("dia", 8), ("zni", 32)):
        cell, frac, edges = nets.net_vertices(net, primitive=False, regularise=False)
        assert len(frac) == n
        lengths = np.linalg.norm((frac[edges[:, 1]] + edges[:, 2:] - frac[edges[:, 0]]) @ cell, axis=1)
        assert lengths == pytest.approx(1.0, abs=2e-4)


def test_dia_is_tetrahedral_and_zni_is_regularised():
    cell, frac, edges = nets.net_vertices("dia")
    assert nets.vertex_angles(cell, frac, edges) == pytest.approx(109.47, abs=0.05)
    cell, frac, edges = nets.net_vertices("zni", regularise=False)
    assert nets.vertex_angles(cell, frac, edges).min() < 70  # RCSR max-symmetry embedding
    cell, frac, edges = nets.net_vertices("zni")
    angles = nets.vertex_angles(cell, frac, edges)
    assert angles.min() > 85.0 and angles.max() < 145.0


def test_stored_zni_embedding_is_current_and_regular():
    """net_vertices('zni') reads the regularised embedding stored in zifsim/data (the same on
    every machine); it must be the one for today's RCSR data and regularise settings."""
    spec, _ = nets._resolve_net("zni")
    assert f"zni-{nets.embedding_key(spec, True)}" in nets._stored_embeddings(), \
        "the zni net or regularise_embedding changed: regenerate zifsim/data/net_embeddings.json"
    cell, frac, edges = nets.net_vertices("zni")
    lengths = np.linalg.norm((frac[edges[:, 1]] + edges[:, 2:] - frac[edges[:, 0]]) @ cell, axis=1)
    assert lengths == pytest.approx(1.0, abs=0.02)
    angles = nets.vertex_angles(cell, frac, edges)
    assert angles.min() > 85.0 and angles.max() < 145.0


@pytest.mark.slow
def test_regularise_embedding_from_scratch():
    """What is reproducible of the minimisation itself (its exact minimum depends on
    floating-point rounding): every zni vertex angle ends in 85-145 deg, edges 1 +- 2 %."""
    cell, frac, edges = nets.net_vertices("zni", regularise=False)
    c, f = nets.regularise_embedding(cell, frac, edges)
    lengths = np.linalg.norm((f[edges[:, 1]] + edges[:, 2:] - f[edges[:, 0]]) @ c, axis=1)
    assert lengths == pytest.approx(1.0, abs=0.02)
    angles = nets.vertex_angles(c, f, edges)
    assert angles.min() > 85.0 and angles.max() < 145.0


def _contacts(atoms, metal):
    """Shortest distance between atoms that are neither covalently bonded nor M-N bonded."""
    s = np.array(atoms.get_chemical_symbols())
    i, j, d = neighbor_list("ijd", atoms, 2.6)
    same_ring = d < 1.6
    mn = ((s[i] == metal) & (s[j] == "N")) | ((s[j] == metal) & (s[i] == "N"))
    # within one imidazolate, H...N/C two bonds apart are ~2.1 Å: exclude intra-ring pairs
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    cov = same_ring & (s[i] != metal) & (s[j] != metal)
    _, ring = connected_components(coo_matrix((np.ones(cov.sum()), (i[cov], j[cov])),
                                              shape=(len(atoms),) * 2), directed=False)
    other = ~same_ring & ~mn & (ring[i] != ring[j])
    return float(d[other].min()) if other.any() else np.inf


@pytest.mark.parametrize("net, metal, formula, n_networks",
                         [("dia-c", "Cd", "C24H24Cd4N16", 2), ("zni", "Zn", "C96H96N64Zn16", 1),
                          ("dia", "Co", "C12H12Co2N8", 1)])
def test_decorated_cells_are_chemically_sane(net, metal, formula, n_networks):
    atoms = nets.build_net_cell(net, metal, relax=False)
    assert atoms.get_chemical_formula() == formula
    rep = nets.net_report(atoms, metal)
    assert rep["cn"] == [4] * rep["n_metal"]
    assert np.allclose(rep["mn_A"], mn_bond(metal), atol=0.05)  # zni: edges 1 +- 1 %
    assert rep["n_networks"] == n_networks
    assert len(rep["intra_mm_A"]) == 2 * rep["n_metal"]  # 4 linkers per metal, 2 metals per linker
    assert _contacts(atoms, metal) > 1.8  # no linker-linker clash left by the decoration
    # ring rotations chosen for tetrahedral metals (zni's net angles limit it: 90-140°)
    assert min(rep["tau4"]) > (0.9 if net == "dia" else 0.7)


def test_tau4_of_ideal_and_flat_centres():
    """tau4 in net_report: 1 for a tetrahedral, 0 for a square-planar MN4 centre."""
    from ase import Atoms
    t = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3) * 2.0
    sq = np.array([[2.0, 0, 0], [-2.0, 0, 0], [0, 2.0, 0], [0, -2.0, 0]])
    for vecs, expected in ((t, 1.0), (sq, 0.0)):
        atoms = Atoms(["Zn"] + ["N"] * 4, positions=np.vstack([[5, 5, 5], 5 + vecs]),
                      cell=[10, 10, 10], pbc=True)
        assert nets.net_report(atoms, "Zn")["tau4"] == [pytest.approx(expected, abs=1e-3)]  # 141.06/141


def test_interpenetration_offset_moves_only_the_second_net():
    a0 = nets.build_net_cell("dia-c", "Cd", relax=False, offset=(0.0, 0.0, 0.0))
    a1 = nets.build_net_cell("dia-c", "Cd", relax=False, offset=(0.0, 0.0, 0.1))
    r0, r1 = nets.net_report(a0, "Cd"), nets.net_report(a1, "Cd")
    assert r0["intra_mm_A"] == pytest.approx(r1["intra_mm_A"], abs=1e-6)
    assert min(r1["inter_mm_A"]) < min(r0["inter_mm_A"]) - 0.5
    # (0, 0, 0): the cuprite arrangement, every inter-network neighbour at the intra distance
    assert min(r0["inter_mm_A"]) == pytest.approx(nets.linker_span("Cd"), abs=1e-4)
    default = nets.build_net_cell("dia-c", "Cd", relax=False)
    assert default.info["offset"] == list(nets.DIA_C_DEFAULT_OFFSET)


def test_bad_inputs_are_config_errors():
    with pytest.raises(ConfigError, match="unknown net 'sod'"):
        nets.build_net_cell("sod", relax=False)
    with pytest.raises(ConfigError, match="linker 'bim'"):
        nets.build_net_cell("zni", linker="bim", relax=False)
    with pytest.raises(ConfigError, match="metal 'Xx'"):
        nets.build_net_cell("dia", metal="Xx", relax=False)


class _LJProvider:
    """A stand-in provider (Lennard-Jones, ~free) to test relaxation plumbing and the cache."""
    name = "test:lj"

    def __init__(self):
        self.calls = 0
        outer = self

        class Counting(LennardJones):
            def calculate(self, *a, **k):
                outer.calls += 1
                super().calculate(*a, **k)
        self.calculator = Counting(sigma=1.0, epsilon=0.001, rc=3.0)

    def check_elements(self, symbols, source=None):
        pass

    def metadata(self):
        return {"model": "lj", "model_version": "1", "weights_sha256": None}


def test_relaxed_build_is_cached_and_keyed_by_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv("ZIFSIM_CACHE", str(tmp_path))
    prov = _LJProvider()
    a = nets.build_net_cell("dia", "Zn", provider=prov, steps=3, fmax=1e-9)
    assert a.info["relaxed"] and a.info["relaxation"]["steps"] == 3 and prov.calls > 0
    files = list((tmp_path / "nets").glob("*.extxyz"))
    assert len(files) == 1
    calls = prov.calls
    b = nets.build_net_cell("dia", "Zn", provider=prov, steps=3, fmax=1e-9)
    assert prov.calls == calls  # served from the cache
    np.testing.assert_allclose(b.positions, a.positions, atol=1e-6)
    np.testing.assert_allclose(b.cell[:], a.cell[:], atol=1e-6)
    assert b.info["relaxation"]["provider"] == "test:lj"
    nets.build_net_cell("dia", "Co", provider=prov, steps=3, fmax=1e-9)
    assert prov.calls > calls and len(list((tmp_path / "nets").glob("*.extxyz"))) == 2


def test_staged_relax_is_cached_and_keyed_by_the_start_structure(tmp_path, monkeypatch):
    """relax_staged (place-then-relax substitutions): one summary per stage, cached, new key
    when a position moves."""
    monkeypatch.setenv("ZIFSIM_CACHE", str(tmp_path))
    prov = _LJProvider()
    start = nets.build_net_cell("dia", "Zn", relax=False)
    stages = ({"cell": False, "fmax": 1e-9, "steps": 2, "optimizer": "FIRE"},
              {"cell": True, "fmax": 1e-9, "steps": 2, "optimizer": "BFGS"})
    a = nets.relax_staged(start, prov, stages=stages, tag="t")
    assert [s["cell_relaxed"] for s in a.info["relaxation"]] == [False, True]
    assert [s["optimizer"] for s in a.info["relaxation"]] == ["FIRE", "BFGS"]
    calls = prov.calls
    b = nets.relax_staged(start, prov, stages=stages, tag="t")
    assert prov.calls == calls
    np.testing.assert_allclose(b.positions, a.positions, atol=1e-6)
    moved = start.copy()
    moved.positions[0, 0] += 0.01
    nets.relax_staged(moved, prov, stages=stages, tag="t")
    assert prov.calls > calls and len(list((tmp_path / "nets").glob("t-*.extxyz"))) == 2
