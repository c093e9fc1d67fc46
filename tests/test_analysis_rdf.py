"""Partial RDFs against MDAnalysis InterRDF, read by MDAnalysis from the same dump files.

g_ab is normalised by N_a N_b / V for like and unlike pairs (Faber-Ziman); InterRDF
with ``exclusion_block=(1, 1)`` divides like pairs by N_a (N_a - 1), so its g_aa is
rescaled by (N_a - 1) / N_a before the comparison.
"""
from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from zifsim.analysis.rdf import PartialRDF, max_rdf_range
from zifsim.analysis.synthetic import write_synthetic_run
from zifsim.analysis.trajectory import read_dump

#: tolerances on g(r): both codes bin the same distances; they differ only where a
#: distance lands within float32 rounding (freud) of a bin edge, which moves one pair
#: to the next bin: a spike of ~0.006 in one bin, nothing on average
TOL_G_MAX = 0.02
TOL_G_MEAN = 2e-4


@pytest.fixture(scope="module")
def triclinic_run(tmp_path_factory):
    """NaCl in its primitive (60°, triclinic) cell, 5x5x5 = 250 atoms, 12 noisy frames."""
    atoms = bulk("NaCl", "rocksalt", a=5.64).repeat((5, 5, 5))
    rundir = tmp_path_factory.mktemp("tri") / "run"
    write_synthetic_run(rundir, atoms, [("hot", 600, 600)], frames_per_stage=12,
                        sigma_per_sqrtK=0.006, seed=3)
    return rundir / "00-hot" / "traj.lammpstrj"


def test_rdf_matches_mdanalysis_interrdf(triclinic_run):
    import MDAnalysis as mda
    from MDAnalysis.analysis.rdf import InterRDF

    frames = list(read_dump(triclinic_run))
    r_max = 0.999 * max_rdf_range(frames[0].cell)
    rdf = PartialRDF(r_max=r_max, dr=0.05).run(frames)
    assert rdf.n_frames == 12
    u = mda.Universe(str(triclinic_run), topology_format="LAMMPSDUMP", format="LAMMPSDUMP")
    # the dump's type column: Cl = 1, Na = 2 (sorted element names)
    sel = {"Cl": u.select_atoms("type 1"), "Na": u.select_atoms("type 2")}
    for a, b in [("Na", "Cl"), ("Na", "Na"), ("Cl", "Cl")]:
        ref = InterRDF(sel[a], sel[b], nbins=rdf.nbins, range=(0.0, rdf.r_max),
                       exclusion_block=(1, 1) if a == b else None).run()
        np.testing.assert_allclose(ref.results.bins, rdf.r, atol=1e-9)
        g = rdf.partial(a, b)
        n_a = len(sel[a])
        ref_g = ref.results.rdf * ((n_a - 1) / n_a if a == b else 1.0)
        diff = np.abs(ref_g - g)
        assert diff.max() < TOL_G_MAX, (a, b)
        assert diff.mean() < TOL_G_MEAN, (a, b)
        # same number of pairs in total (no pair lost or double counted)
        assert abs(np.sum(ref.results.count) - np.sum(rdf._hist[(a, b) if (a, b) in rdf._hist else (b, a)])
                   * (1 if a != b else 1)) <= 2 * rdf.n_frames, (a, b)
        assert g.max() > 5  # a crystal: sharp first peak, so the comparison is not trivial


def test_rdf_first_peak_and_running_cn(triclinic_run):
    rdf = PartialRDF(r_max=6.0, dr=0.02).run(read_dump(triclinic_run))
    peaks = rdf.peaks()
    nacl = peaks[peaks.pair.isin(["Na-Cl", "Cl-Na"])].sort_values("r_A")
    assert abs(nacl.r_A.iloc[0] - 2.82) < 0.05  # a/2
    n = rdf.running_cn("Na", "Cl")[np.searchsorted(rdf.r, 3.5)]
    assert abs(n - 6.0) < 0.05
    assert np.all(np.isfinite(rdf.total))


def test_rdf_beyond_half_cell_equals_the_supercell():
    """r_max 10 Å in a 7.22 Å cube: periodic images counted, same g(r) as a 4x4x4 supercell.

    (The old RDF silently cut the range at half the cell, 3.61 Å.)
    """
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)  # 7.22 Å cube
    rdf = PartialRDF(r_max=10.0, dr=0.05).compute(atoms)
    assert rdf.r_max == pytest.approx(10.0)
    big = PartialRDF(r_max=10.0, dr=0.05).compute(atoms.repeat(2))
    np.testing.assert_allclose(rdf.partial("Cu", "Cu"), big.partial("Cu", "Cu"), rtol=1e-12, atol=1e-12)
    # fcc shells: 12 at a/sqrt(2), 6 at a, 24 at a sqrt(3/2), 12 at a sqrt(2) -> 54 within 5.3 Å
    cn = rdf.running_cn("Cu", "Cu")
    assert cn[np.searchsorted(rdf.r, 3.0)] == pytest.approx(12, abs=1e-9)
    assert cn[np.searchsorted(rdf.r, 5.3)] == pytest.approx(54, abs=1e-9)
    # triclinic (primitive fcc, 60°): also beyond half its width
    prim = bulk("Cu", "fcc", a=3.61)
    tri = PartialRDF(r_max=6.0, dr=0.05).compute(prim.repeat(2))
    np.testing.assert_allclose(tri.running_cn("Cu", "Cu")[np.searchsorted(tri.r, 5.3)], 54, atol=1e-9)


def test_like_pairs_normalised_by_na_nb_unit_cell_equals_supercell():
    """N_a N_b / V for like pairs too: the 4-atom cell and its 3x3x3 supercell give the same g_aa."""
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    # dr 0.0173: no lattice distance on a bin edge (float rounding would move it)
    small = PartialRDF(r_max=8.0, dr=0.0173).compute(atoms)
    big = PartialRDF(r_max=8.0, dr=0.0173).compute(atoms.repeat(3))
    for a, b in (("Na", "Na"), ("Cl", "Cl"), ("Na", "Cl")):
        np.testing.assert_allclose(small.partial(a, b), big.partial(a, b), atol=1e-10)


def test_rdf_unknown_pair_is_an_input_error():
    from zifsim.errors import InputError
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    with pytest.raises(InputError, match="no Zn atoms"):
        PartialRDF(pairs=[("Cu", "Zn")]).compute(atoms)


def test_frames_with_a_shrunken_cell_are_used():
    """A frame narrower than 2 r_max is no longer left out (images are counted)."""
    from zifsim.analysis.trajectory import frame_from_atoms
    big = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(4)
    small = big.copy()
    small.set_cell(big.cell * 0.85, scale_atoms=True)  # 15 % compression: narrower than 2 r_max
    rdf = PartialRDF(r_max=10.0, dr=0.05).run([frame_from_atoms(big), frame_from_atoms(small),
                                               frame_from_atoms(big)])
    assert rdf.n_frames == 3 and rdf.n_skipped == 0
    assert rdf.running_cn("Cu", "Cu")[np.searchsorted(rdf.r, 3.0)] == pytest.approx(12, abs=1e-3)


def test_orthorhombic_fast_path_equals_general_triclinic_search():
    from zifsim.analysis.rdf import periodic_pairs
    rng = np.random.default_rng(5)
    cell = np.diag([13.0, 15.0, 17.0])
    frac = rng.random((400, 3))
    i, j, d, ordered = periodic_pairs(cell, frac, 6.0, unordered_ok=True)
    i2, j2, d2, ordered2 = periodic_pairs(cell, frac, 6.0)
    assert not ordered and ordered2
    assert 2 * len(d) == len(d2)
    np.testing.assert_allclose(np.sort(np.concatenate([d, d])), np.sort(d2), atol=1e-9)
    # brute force minimum image for a few atoms
    for k in range(5):
        dv = (frac - frac[k]) @ cell
        dv -= np.diag(cell) * np.round(dv / np.diag(cell))
        r = np.linalg.norm(dv, axis=1)
        assert np.sum((r < 6.0) & (r > 0)) == np.sum(i2 == k)


def test_cd_im2_registry_cell_shows_the_metal_metal_peaks():
    """The default main job's Cd(im)2 cell: the RDF reaches 10 Å (it stopped at 3.9 Å), Cd...Cd at 5.2/6.4/6.8 Å."""
    from pathlib import Path
    from zifsim.structures import read_structure
    path = Path(__file__).resolve().parents[1] / "structures" / "Cd-im2" / "cell.extxyz"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    atoms = read_structure(path)
    assert max_rdf_range(atoms.cell.array) < 5.0  # a small cell: half its width is below the Cd...Cd distances
    rdf = PartialRDF(r_max=10.0, dr=0.02).compute(atoms)
    assert rdf.r[-1] > 9.9
    peaks = rdf.peaks()
    cdcd = peaks[peaks.pair == "Cd-Cd"].r_A.to_numpy()
    for target in (5.2, 6.4, 6.8):  # X25 (configs/materials.yaml MM_* facts)
        assert np.min(np.abs(cdcd - target)) < 0.25, (target, cdcd)


def test_broadened_rdf_of_an_ideal_gas_stays_at_one_up_to_the_last_bin():
    """Gaussian broadening (sigma 0.2 Å) must see the pairs beyond r_max: g of a random gas ~1 to r_max.

    (Before: pairs searched only to r_max, so g fell to ~0.5 over the last bins.)"""
    from ase import Atoms
    rng = np.random.default_rng(7)
    n, box = 3000, 24.0
    gas = Atoms("Ar" * n, positions=rng.uniform(0, box, (n, 3)), cell=[box] * 3, pbc=True)
    rdf = PartialRDF(r_max=8.0, dr=0.05, sigma=0.2).compute(gas)
    g = rdf.partial("Ar", "Ar")
    assert len(g) == len(rdf.r) == 160
    sel = rdf.r > 2.0
    assert np.abs(g[sel] - 1).max() < 0.04
    assert np.mean(g[-8:]) == pytest.approx(1.0, abs=0.015)   # the last 4 sigma


def test_broadening_kernel_longer_than_the_bins():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
    rdf = PartialRDF(r_max=0.5, dr=0.1, sigma=0.3).compute(atoms)   # 5 bins, kernel of 25
    assert rdf.nbins == 5 and len(rdf.r) == 5 and len(rdf.partial("Cu", "Cu")) == 5
    assert len(rdf.table) == 5
    # far wider range: the broadened first shell (2.55 Å) holds its 12 neighbours
    wide = PartialRDF(r_max=3.1, dr=0.02, sigma=0.1).compute(atoms)
    assert wide.running_cn("Cu", "Cu")[-1] == pytest.approx(12.0, abs=0.05)
