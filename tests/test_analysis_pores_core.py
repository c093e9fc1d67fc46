"""zifsim pores on the raw CoRE MOF 2019 CIFs against the CoRE MOF 2019 table (2019-ASR.csv, Zeo++ -ha).

Settings as CoRE (inferred from the table, docs/pores.md): Zeo++ default radii, ASA/NASA with
channel = probe radius 1.655 Å, AV_VF with probe 0 (geometric void fraction). zifsim computes
the hard-sphere geometry exactly (grid + exact window saddles); Zeo++'s -ha sphere clusters
make cavities and windows slightly larger, so the table's LCD / PLD are larger by up to the
stated one-sided margins. Tolerances (table - zifsim):

* LCD (largest included sphere):      -0.05 ... +0.08 Å (Zeo++ is low at degenerate cage centres)
* PLD (largest percolating sphere):   -0.02 ... +0.18 Å
* AV_VF (geometric void fraction):    |diff| <= 0.02
* ASA + NASA (probe 1.655 Å surface): within 10 % or 30 m2/g; ASA vs NASA split the same
  unless the PLD is within 0.18 Å of 2 x 1.655 Å (there -ha decides the accessibility)
"""
from __future__ import annotations

import warnings

import pytest

from zifsim.analysis.pores import core_mof_2019_properties

#: the registry crystals (ZIF-4, ZIF-8, Cu(im)2, Co(im)2)
REGISTRY = ["VEJYUF01_clean", "FAWCEN_SL", "CUIMDZ01_clean_h", "EQOCES01_clean"]
#: other CoRE 2019 entries of LCD 3.9-17 Å, channels and pockets (two per LCD bin, smallest cells;
#: FAWCEN01 has its PLD at the 3.31 Å accessibility threshold of the 1.655 Å probe)
OTHERS = ["FAWCEN01_SL", "EBEMEF_clean", "FIFPOA_clean", "DUQCAU01_clean", "ECEZAO01_clean", "DUXZIG01_clean",
          "EQOCES_clean", "DOLXOR01_clean", "HIYZEV01_clean", "LUNBIF_clean", "FAKLIO_clean", "CAXVII_clean",
          "HIFVUO01_clean", "VEMMIK_clean", "XALTOV_clean", "RAVVUH_clean"]
LCD_TOL, PLD_TOL, VF_TOL, ASA_REL, ASA_ABS = (-0.05, 0.08), (-0.02, 0.18), 0.02, 0.10, 30.0


@pytest.fixture(scope="module")
def core():
    """The CoRE 2019 table and the cached raw CIFs (one pass over the package archive)."""
    pytest.importorskip("CoRE_MOF")
    import pandas as pd
    from importlib import resources
    import CoRE_MOF
    from zifsim.structures.io import prefetch_core_mof
    table = pd.read_csv(resources.files(CoRE_MOF.data) / "2019-ASR.csv", usecols=range(12)).set_index("filename")
    names = REGISTRY + OTHERS + ["BOHGOU_clean"]
    paths = dict(zip(names, prefetch_core_mof(names, dataset="2019-ASR")))
    return table, paths


def _check(core, entry):
    import ase.io
    table, paths = core
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        atoms = ase.io.read(paths[entry])  # the raw CoRE CIF, as Zeo++ read it for the table
    ref = table.loc[entry]
    p = core_mof_2019_properties(atoms, spacing=0.2, asa_points=200)
    msg = f"{entry}: zifsim {p} vs CoRE {ref.to_dict()}"
    assert LCD_TOL[0] <= ref.LCD - p["LCD"] <= LCD_TOL[1], msg
    assert PLD_TOL[0] <= ref.PLD - p["PLD"] <= PLD_TOL[1], msg
    assert abs(ref.AV_VF - p["AV_VF"]) <= VF_TOL, msg
    total, ref_total = p["ASA_m2_g"] + p["NASA_m2_g"], ref.ASA_m2_g + ref.NASA_m2_g
    assert abs(total - ref_total) <= max(ASA_REL * ref_total, ASA_ABS), msg
    if abs(ref.PLD - 2 * 1.655) > PLD_TOL[1]:
        assert (p["ASA_m2_g"] > 0) == (ref.ASA_m2_g > 0), msg


@pytest.mark.parametrize("entry", REGISTRY)
def test_core2019_registry_crystals_lcd_pld_within_zeo_ha_margin_avvf_0p02_asa_total_10pct(core, entry):
    _check(core, entry)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known miss (docs/pores.md): small skewed cell (7.7 Å, 116/103/103°); the "
                                       "exact window is found but not joined to the grid, PLD 2.41 Å = the plain "
                                       "grid value (grid 0.04 Å: 2.64; Zeo++ -ha S100: 2.71; CoRE 2.73)")
def test_core2019_bohgou_pld_within_zeo_ha_margin(core):
    _check(core, "BOHGOU_clean")


@pytest.mark.slow
@pytest.mark.parametrize("entry", OTHERS)
def test_core2019_varied_pores_lcd_pld_within_zeo_ha_margin_avvf_0p02_asa_total_10pct(core, entry):
    _check(core, entry)
