"""Partial RDFs against MDAnalysis InterRDF, read by MDAnalysis from the same dump files."""
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
        diff = np.abs(ref.results.rdf - g)
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


def test_rdf_range_clipped_to_half_cell():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)  # 7.22 Å cube
    rdf = PartialRDF(r_max=10.0, dr=0.05).compute(atoms)
    assert rdf.r_max <= 3.61 + 1e-9
    # fcc: 12 neighbours at a/sqrt(2)
    n = rdf.running_cn("Cu", "Cu")[np.searchsorted(rdf.r, 3.0)]
    assert abs(n - 12) < 1e-3


def test_rdf_unknown_pair_is_an_input_error():
    from zifsim.errors import InputError
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    with pytest.raises(InputError, match="no Zn atoms"):
        PartialRDF(pairs=[("Cu", "Zn")]).compute(atoms)


def test_frames_with_a_shrunken_cell_are_left_out_and_counted():
    from zifsim.analysis.trajectory import frame_from_atoms
    big = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(4)
    small = big.copy()
    small.set_cell(big.cell * 0.85, scale_atoms=True)  # 15 % compression: narrower than 2 r_max
    rdf = PartialRDF(r_max=10.0, dr=0.05).run([frame_from_atoms(big), frame_from_atoms(small),
                                               frame_from_atoms(big)])
    assert rdf.n_frames == 3 and rdf.n_skipped == 1
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
