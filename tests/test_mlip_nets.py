"""Net-built cells relaxed with the MLIP (CHGNet + D3) against experiment and a DFT reference.

The relaxations take minutes on a loaded 2-core machine; build_net_cell caches
the relaxed cells in $ZIFSIM_CACHE/nets (default ~/.cache/zifsim/nets), keyed
by every input and the model's sha256, and reads the committed relaxations of
structures/nets/ (same file names) when the cache misses: so these tests check the
committed, reproducible cells in seconds, also from an empty cache; a changed recipe
or model misses the seeds (test_committed_seeds_match_the_recipe says so) and relaxes.
The one MLIP relaxation that always runs is tests/test_cd_bim.py (74 atoms).
"""
from __future__ import annotations

import numpy as np
import pytest

from zifsim.potentials.mlip import mlip_available

pytestmark = [pytest.mark.mlip,
              pytest.mark.skipif(not mlip_available("chgnet"),
                                 reason='chgnet/torch not importable: pip install -e ".[mlip]"')]

# Xue et al. 2025 (X25 in docs/experimental-facts): Cd(im)2, dia-c
CD_METAL_DENSITY_NM3 = 5.13
CD_INTRA_A = 6.4
CD_INTER_A = (5.2, 6.8)


@pytest.fixture(scope="module")
def cd_im2(mlip_relaxer):
    from zifsim.structures.nets import build_net_cell, net_report
    atoms = build_net_cell("dia-c", "Cd", provider=mlip_relaxer)
    return atoms, net_report(atoms, "Cd")


@pytest.mark.parametrize("net, metal", [("dia-c", "Cd"), ("zni", "Zn")])
def test_committed_seeds_match_the_recipe(net, metal, mlip_relaxer):
    """structures/nets/ holds the relaxation of today's recipe and model for the registry's
    net materials, so an empty cache relaxes nothing (refresh: structures/README.md)."""
    from zifsim.structures.nets import SEED_DIR, net_cache_path
    name = net_cache_path(net, metal, mlip_relaxer).name
    assert (SEED_DIR / name).is_file(), f"no committed seed {name}: see structures/README.md"


def test_cd_im2_relaxed(cd_im2):
    atoms, rep = cd_im2
    assert atoms.info["relaxed"] and atoms.info["relaxation"]["converged"]
    assert rep["n_networks"] == 2


def test_cd_im2_every_cd_tetrahedral(cd_im2):
    _, rep = cd_im2
    assert rep["cn"] == [4] * rep["n_metal"]
    assert 2.15 < np.mean(rep["mn_A"]) < 2.35  # Cd-N


def test_cd_im2_intra_network_cd_cd(cd_im2):
    """Cd...Cd across one imidazolate (a PDF peak at 6.4 Å): mean within 0.15 Å, every pair within 0.3 Å."""
    _, rep = cd_im2
    intra = np.asarray(rep["intra_mm_A"])
    assert abs(intra.mean() - CD_INTRA_A) < 0.15
    assert np.abs(intra - CD_INTRA_A).max() < 0.3


@pytest.mark.xfail(strict=True, reason="known discrepancy: CHGNet+D3 gives 4.84 Cd/nm3 (-5.6 %) for the "
                   "default build (fmax 0.05 eV/Å); strained/rattled restarts found minima at 4.64-5.01 "
                   "Cd/nm3 within +-6 meV/Cd, none both denser and clearly lower in energy (docs/mlip.md)")
def test_cd_im2_metal_density(cd_im2):
    """5.13 Cd per nm³ within 5 %."""
    _, rep = cd_im2
    assert rep["metal_density_nm3"] == pytest.approx(CD_METAL_DENSITY_NM3, rel=0.05)


def test_cd_im2_shortest_inter_network_cd_cd(cd_im2):
    """Nearest Cd...Cd between the two networks: 5.2 Å +- 0.3 Å."""
    _, rep = cd_im2
    assert min(rep["inter_mm_A"]) == pytest.approx(CD_INTER_A[0], abs=0.3)


def test_cd_im2_second_inter_network_shell(cd_im2):
    """An inter-network Cd...Cd correlation at 6.8 Å +- 0.3 Å."""
    _, rep = cd_im2
    inter = np.asarray(rep["inter_mm_A"])
    assert np.any(np.abs(inter - CD_INTER_A[1]) < 0.3)


def test_zni_density_matches_dft_reference(reference_dir, mlip_relaxer):
    """ZIF-zni built from the zni net and relaxed: density within 3 % of the PBE-D3 cell."""
    import ase.io

    from zifsim.structures.nets import build_net_cell, net_report
    ref = ase.io.read(reference_dir / "structures" / "ZIF-zni_dft.cif")
    ref_density = net_report(ref, "Zn")["density_gcm3"]
    assert ref_density == pytest.approx(1.569, abs=0.002)  # the file is what README says
    atoms = build_net_cell("zni", "Zn", provider=mlip_relaxer)
    rep = net_report(atoms, "Zn")
    assert rep["cn"] == [4] * 16
    assert rep["density_gcm3"] == pytest.approx(ref_density, rel=0.03)
    # tetrahedral Zn: tau4 0.95 / 0.97 in the crystal (X24); 0.8 is the validation threshold
    assert min(rep["tau4"]) >= 0.8
    assert np.asarray(rep["intra_mm_A"]) == pytest.approx(6.0, abs=0.2)  # Zn...Zn across im
