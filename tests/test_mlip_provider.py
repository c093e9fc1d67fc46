"""MLIPProvider: config errors (always) and CHGNet through LAMMPS fix external (needs [mlip])."""
from __future__ import annotations

import numpy as np
import pytest

from zifsim.errors import ConfigError, ForceFieldError
from zifsim.potentials import get_provider
from zifsim.potentials.mlip import MLIPProvider, mlip_available

needs_chgnet = pytest.mark.skipif(
    not mlip_available("chgnet"),
    reason='chgnet/torch not importable: pip install -e ".[mlip]" (torch==2.13.0 CPU)')


def test_unknown_model_and_keys_are_config_errors():
    with pytest.raises(ConfigError, match="unknown MLIP model 'mace'"):
        MLIPProvider.from_config({"model": "mace"})
    with pytest.raises(ConfigError, match="unknown MLIP provider key.*thread"):
        MLIPProvider.from_config({"model": "chgnet", "thread": 2})
    with pytest.raises(ConfigError, match="threads must be >= 1"):
        MLIPProvider.from_config({"threads": 0})
    with pytest.raises(ConfigError, match="dispersion"):
        MLIPProvider.from_config({"dispersion": "d4"})


def test_get_provider_routes_mlip():
    prov = get_provider({"kind": "mlip", "model": "chgnet", "threads": 1})
    assert isinstance(prov, MLIPProvider)
    assert prov.units == "metal" and prov.name == "mlip:chgnet-0.3.0+d3bj"
    assert get_provider({"kind": "mlip", "dispersion": None}).name == "mlip:chgnet-0.3.0"


def test_missing_package_is_a_clear_error(monkeypatch):
    import zifsim.potentials.mlip as mod
    monkeypatch.setattr(mod, "mlip_available", lambda model="chgnet": False)
    with pytest.raises(ForceFieldError, match=r"pip install -e \"\.\[mlip\]\""):
        MLIPProvider().setup_commands(["Zn"])


@pytest.fixture(scope="module")
def chgnet():
    if not mlip_available("chgnet"):
        pytest.skip('chgnet/torch not importable: pip install -e ".[mlip]"')
    import torch
    torch.set_num_threads(1)
    return MLIPProvider(model="chgnet", threads=1)


@needs_chgnet
def test_elements_metadata_and_commands(chgnet):
    for el in ("H", "C", "N", "Zn", "Cd", "Co", "Cu"):
        assert el in chgnet.elements
    meta = chgnet.metadata()
    assert meta["model_version"] == "0.3.0" and meta["package"] == "chgnet"
    assert len(meta["weights_sha256"]) == 64
    cmds = chgnet.setup_commands(["C", "H", "N", "Zn"])
    assert cmds[0].startswith("pair_style zero")
    assert any("external pf/callback" in c for c in cmds)
    assert any("energy yes virial yes" in c for c in cmds)
    with pytest.raises(ForceFieldError, match="Og"):
        chgnet.check_elements(["Zn", "Og"])


@needs_chgnet
def test_d3_is_added_to_the_model(chgnet):
    """calculator = CHGNet + D3(BJ): energies add up, and dispersion binds (negative energy)."""
    pytest.importorskip("dftd3", reason="dftd3 not installed (pip install dftd3==1.7.0)")
    from dftd3.ase import DFTD3
    atoms = _zno(rattle=0.0)
    e_sum = chgnet.calculator.get_potential_energy(atoms.copy())
    e_model = chgnet.model_calculator.get_potential_energy(atoms.copy())
    e_d3 = DFTD3(method="PBE", damping="d3bj").get_potential_energy(atoms.copy())
    assert e_d3 < -0.1
    assert e_sum == pytest.approx(e_model + e_d3, abs=1e-5)
    assert chgnet.metadata()["dispersion"] == "d3bj"


def _zno(repeat=(2, 2, 1), a=3.25, c=5.21, rattle=0.03):
    from ase.build import bulk
    atoms = bulk("ZnO", "wurtzite", a=a, c=c).repeat(repeat)  # hexagonal box: xy tilt
    atoms.rattle(rattle, seed=3)
    return atoms


def _run_lammps(tmp_path, provider, atoms, elements, extra=()):
    from zifsim.potentials.ase_bridge import open_bridged_lammps
    lmp = open_bridged_lammps(atoms, provider, elements, tmp_path)
    lmp.commands_list(["thermo_style custom step temp pe etotal press pxx pyy pzz pxy pxz pyz vol",
                       *extra])
    return lmp


@needs_chgnet
@pytest.mark.mlip
def test_chgnet_through_lammps_equals_calculator(tmp_path, chgnet):
    """Same positions: LAMMPS pe, forces, virial pressure == CHGNetCalculator's own (float32)."""
    from ase.units import GPa

    from zifsim.potentials.ase_bridge import lammps_state
    elements = ["O", "Zn"]
    lmp = _run_lammps(tmp_path, chgnet, _zno(), elements)
    lmp.command("run 0")
    ref, f = lammps_state(lmp, elements)
    ref.calc = chgnet.calculator
    e_ref, f_ref = ref.get_potential_energy(), ref.get_forces()
    s_ref = ref.get_stress(voigt=False)
    assert lmp.get_thermo("pe") == pytest.approx(e_ref, abs=1e-4)
    np.testing.assert_allclose(f, f_ref, atol=1e-4)
    assert np.abs(f).max() > 0.1  # the rattle gives real forces
    p_lmp = [lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")]
    p_ref = [-s_ref[i, j] / (1e-4 * GPa) for i, j in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))]
    np.testing.assert_allclose(p_lmp, p_ref, rtol=1e-4, atol=0.5)  # bar; float32 model


@needs_chgnet
@pytest.mark.mlip
def test_chgnet_nve_and_npt_steps(tmp_path, chgnet):
    """A few MD steps: NVE keeps etotal (float32 model), NPT on a stretched cell shrinks the box."""
    elements = ["O", "Zn"]
    lmp = _run_lammps(tmp_path, chgnet, _zno(rattle=0.0), elements,
                      ["velocity all create 300 5 dist gaussian", "timestep 0.001",
                       "fix nve all nve"])
    lmp.command("run 0")
    e0 = lmp.get_thermo("etotal")
    lmp.command("run 20")
    assert lmp.get_thermo("temp") > 10.0
    assert abs(lmp.get_thermo("etotal") - e0) < 2e-3 * 16  # eV, 16 atoms
    chgnet.bridge.raise_if_failed()

    # stretched by 4 % in a: tensile stress, NPT at 1 bar must shrink the box
    lmp = _run_lammps(tmp_path, chgnet, _zno(a=3.25 * 1.04, c=5.21 * 1.04, rattle=0.0), elements,
                      ["velocity all create 300 5", "timestep 0.001",
                       "fix npt all npt temp 300 300 0.1 tri 1 1 0.2"])
    lmp.command("run 0")
    v0, p0 = lmp.get_thermo("vol"), lmp.get_thermo("press")
    assert p0 < -1e4  # tensile
    lmp.command("run 60")
    assert lmp.get_thermo("vol") < v0 * 0.98
    assert chgnet.bridge.calls >= 60


@pytest.mark.mlip
@pytest.mark.skipif(not mlip_available("sevennet"), reason="sevenn not installed (optional: pip install sevenn==0.13.0)")
def test_sevennet_through_lammps_equals_calculator(tmp_path):
    """The second model (SevenNet-0, no D3) through the same bridge: pe and forces match."""
    import torch
    torch.set_num_threads(1)
    prov = MLIPProvider(model="sevennet", dispersion="none", threads=1)
    assert {"Zn", "Cd", "Co", "Cu", "C", "H", "N"} <= set(prov.elements)
    meta = prov.metadata()
    assert meta["package"] == "sevenn" and meta["weights_sha256"] and meta["model_version"] == "7net-0"
    elements = ["O", "Zn"]
    lmp = _run_lammps(tmp_path, prov, _zno(), elements)
    lmp.command("run 0")
    from zifsim.potentials.ase_bridge import lammps_state
    ref, f = lammps_state(lmp, elements)
    ref.calc = prov.calculator
    assert lmp.get_thermo("pe") == pytest.approx(ref.get_potential_energy(), abs=1e-4)
    np.testing.assert_allclose(f, ref.get_forces(), atol=1e-4)
