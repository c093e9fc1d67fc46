"""Validation metrics on independent third-party structures (../shared/reference).

ZIF-zni DFT cell (Gaillac et al. 2018): every Zn 4-coordinated, density 1.569
g/cm3 (reference README), tau4 0.95-0.97 for the two Zn sites (X24, experiment).
ZIF-4 / ZIF-8 first-principles glasses (Gaillac et al. 2020): mean Zn-N CN
about 3.93 / 3.97 with a 2.5 Å cut-off (reference README).
"""
from __future__ import annotations

import numpy as np
import pytest

from zifsim.structures import read_structure, validate_structure


def _path(reference_dir, rel):
    path = reference_dir / "structures" / rel
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def test_zni_dft_cell(reference_dir):
    atoms = read_structure(_path(reference_dir, "ZIF-zni_dft.cif"))
    rep = validate_structure(atoms, name="ZIF-zni DFT")
    t = rep["tau4"]
    print(f"\nZIF-zni DFT: density {rep['density_gcm3']:.3f} g/cm3 (README 1.569; exp. 1.56), "
          f"tau4 {t['min']:.3f}-{t['max']:.3f} (X24: 0.95, 0.97), Zn-N {rep['MN_distance_A']['mean']:.3f} Å")
    assert rep["passed"], rep["checks"]
    assert rep["density_gcm3"] == pytest.approx(1.569, abs=0.001)
    assert rep["cn_counts"] == {"4": 16} and rep["linkers"] == {"im": 32}
    # DFT geometry: 0.922 / 0.945, i.e. ~0.025 below the experimental 0.95 / 0.97
    assert 0.90 <= t["min"] and t["max"] <= 0.99
    # two symmetry-distinct Zn sites: two groups of 8, split by ~0.02 as in experiment (0.97 - 0.95)
    taus = np.sort([m["tau4"] for m in rep["per_metal"]])
    low, high = taus[:8], taus[8:]
    assert np.ptp(low) < 0.005 and np.ptp(high) < 0.005
    assert 0.01 < high.mean() - low.mean() < 0.03


@pytest.mark.parametrize("kind,expected_cn", [("ZIF4", 3.93), ("ZIF8", 3.97)])
def test_aimd_glass_coordination(reference_dir, kind, expected_cn):
    """Mean Zn-N CN over the 10 glasses matches the README's 2.5 Å value; glasses fail CN = 4."""
    cns, failed = [], 0
    for k in range(1, 11):
        atoms = read_structure(_path(reference_dir, f"aimd-glasses/{kind}_15glass{k:02d}.cif"))
        rep = validate_structure(atoms)
        cns += [m["cn"] for m in rep["per_metal"]]
        failed += not rep["passed"]
    mean = float(np.mean(cns))
    print(f"\n{kind} glasses: mean Zn-N CN {mean:.3f} (README about {expected_cn}); "
          f"{failed}/10 flagged as not fully 4-coordinated")
    assert mean == pytest.approx(expected_cn, abs=0.01)
    assert failed >= 1
