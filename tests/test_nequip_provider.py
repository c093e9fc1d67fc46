"""Deployed NequIP ZIF-4 model as an MLIP provider (zifsim.potentials.nequip + mlip.py).

Without the .pth (``$ZIFSIM_FORCEFIELD_DIR``) the model tests skip; the
neighbour list and config checks always run. The model costs seconds per
call on the loaded 2-core machine: the bridge test uses the 272-atom ZIF-4
cell once, the MD tests the 34-atom Zn(im)2 dia cell (the smallest H/C/N/Zn
framework zifsim builds) for a few steps.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from zifsim.errors import ConfigError, ForceFieldError
from zifsim.potentials import get_provider
from zifsim.potentials.mlip import MLIPProvider, mlip_available
from zifsim.potentials.nequip import SkinNeighbourList, reference_edges

ROOT = Path(__file__).resolve().parents[1]
needs_torch = pytest.mark.skipif(not mlip_available("nequip"),
                                 reason='torch not importable: pip install -e ".[mlip]"')


def _zif4():
    from zifsim.engine import read_cell
    return read_cell(ROOT / "structures" / "ZIF-4" / "cell.extxyz")  # committed registry cell


def _dia_zn():
    from zifsim.structures.nets import build_net_cell
    return build_net_cell("dia", "Zn", relax=False)  # Zn2(im)4, 34 atoms


def _edge_set(i, j, S):
    return {(int(a), int(b), *map(int, s)) for a, b, s in zip(i, j, S)}


def test_skin_list_equals_a_fresh_list_through_moves_wraps_and_strain():
    """Kept list == ASE's fresh list after moves < skin/2, a re-wrapped atom and a strained cell."""
    atoms = _zif4()
    nl = SkinNeighbourList(6.0, skin=1.0)
    rng = np.random.default_rng(1)
    pos = atoms.positions.copy()
    cell = atoms.cell.array.copy()
    steps = [("start", 0.0, 0.0), ("move", 0.1, 0.0), ("move", 0.2, 0.0),
             ("strain", 0.05, 0.004), ("big", 0.8, 0.0)]
    for what, amp, strain in steps:
        pos = pos + rng.normal(scale=amp / 3, size=pos.shape)
        if strain:
            eps = np.eye(3) + strain * np.array([[1, 0.3, 0], [0.3, -0.5, 0], [0, 0, 0.7]])
            pos, cell = pos @ eps, cell @ eps
        given = pos.copy()
        given[5] += cell[0]   # LAMMPS re-wrapped atom 5 by a lattice vector
        given[17] -= cell[2]
        atoms.positions, atoms.cell = given, cell
        got = _edge_set(*nl.update(given, cell))
        want = _edge_set(*reference_edges(atoms, 6.0))
        assert got == want, what
    assert nl.calls == 5
    assert nl.builds < nl.calls  # the list was kept for the small moves
    assert nl.builds >= 2         # and rebuilt for the 0.8 Å move


def test_config_errors():
    with pytest.raises(ConfigError, match="executor"):
        MLIPProvider(model="nequip", executor="fast")
    with pytest.raises(ConfigError, match="for model nequip only"):
        MLIPProvider.from_config({"model": "chgnet", "skin": 1.0})
    with pytest.raises(ConfigError, match="skin"):
        MLIPProvider(model="nequip", skin=-1)
    prov = get_provider({"kind": "mlip", "model": "nequip", "device": "cuda"})
    assert prov.device == "cuda" and prov.dispersion == "none"  # trained on DFT: no D3 added
    assert prov.name == "mlip:nequip-nequip_l2r6stress0"


def test_missing_model_file_names_folder_and_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("ZIFSIM_FORCEFIELD_DIR", str(tmp_path))
    prov = MLIPProvider(model="nequip")
    with pytest.raises(ForceFieldError, match="not found") as err:
        prov.check_elements(["Zn"])
    assert "zifsim forcefield fetch NequIP_ZIF4" in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_registry_and_fetch(nequip_zif4_file, tmp_path):
    """`zifsim forcefield fetch NequIP_ZIF4` knows the public source; a local copy verifies."""
    from zifsim.potentials.reaxff import fetch_forcefield, registry_entry, sha256_file
    entry = registry_entry("NequIP_ZIF4")
    assert entry["file"] == "nequip_l2r6stress0.pth" and entry["elements"] == ["H", "C", "N", "Zn"]
    assert "162-Castel_DigitalDiscovery_2024" in entry["url"] and "10.1039/D3DD00236E" in entry["citation"]
    assert sha256_file(nequip_zif4_file) == entry["sha256"]
    got = fetch_forcefield("NequIP_ZIF4", url=nequip_zif4_file.as_uri(), dest_dir=tmp_path)
    assert got == tmp_path / "nequip_l2r6stress0.pth"


@pytest.mark.parametrize("metal,extra", [("Cd", None), ("Co", None), ("Cu", None), ("Zn", "Cl")])
def test_elements_outside_the_model_are_refused_before_writing(nequip_zif4_file, tmp_path, metal, extra):
    """Cd, Co, Cu, Cl cells: refused naming the missing element and what to use; nothing written."""
    from zifsim.engine.run import run_protocol
    atoms = _dia_zn()
    symbols = atoms.get_chemical_symbols()
    atoms.set_chemical_symbols([metal if s == "Zn" else s for s in symbols])
    if extra:
        atoms[np.flatnonzero(atoms.numbers == 1)[0]].symbol = extra  # one H -> Cl
    prov = MLIPProvider(model="nequip")
    assert prov.elements == ("H", "C", "N", "Zn")  # from the file's metadata, torch not needed
    with pytest.raises(ForceFieldError) as err:
        run_protocol(atoms, "tiny", prov, tmp_path / "run")
    msg = str(err.value)
    missing = extra or metal
    assert f"no {missing} in it" in msg and "H C N Zn" in msg and "model: chgnet" in msg
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def nequip(nequip_zif4_file):
    if not mlip_available("nequip"):
        pytest.skip('torch not importable: pip install -e ".[mlip]"')
    return MLIPProvider(model="nequip", threads=1)


@needs_torch
@pytest.mark.parametrize("model", ["nequip", "chgnet"])
def test_device_cuda_is_accepted_and_refused_clearly_without_a_gpu(nequip_zif4_file, model):
    """Every MLIP takes device: cuda; on a machine without a GPU the load stops with a clear
    error before any model is read (the GPU path itself is not run here; the check is the
    same line for chgnet, sevennet and nequip)."""
    import torch
    prov = get_provider({"kind": "mlip", "model": model, "device": "cuda"})
    assert prov.device == "cuda"
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: the refusal path does not apply")
    with pytest.raises(ForceFieldError, match="sees no CUDA GPU"):
        prov.model_calculator


@needs_torch
@pytest.mark.mlip
def test_metadata_records_sha_and_versions(nequip):
    meta = nequip.metadata()
    assert meta["weights_sha256"] == meta["sha256"] and len(meta["sha256"]) == 64
    assert meta["registry_name"] == "NequIP_ZIF4" and meta["type_names"] == ["H", "C", "N", "Zn"]
    assert meta["package_versions"]["torch"] and meta["written_by"]["nequip"] == "0.5.6"
    assert meta["r_max_A"] == 6.0 and meta["device"] == "cpu" and "Castel" in meta["citation"]


@needs_torch
@pytest.mark.mlip
@pytest.mark.slow  # two calls of the model on 272 atoms: ~10 s idle, up to 60 s on the loaded machine
def test_bridge_equals_the_raw_model_on_zif4(tmp_path, nequip):
    """ZIF-4 (272 atoms): LAMMPS pe, forces and pressure tensor through fix external ==
    the TorchScript model called directly with ASE's neighbour list (float32 precision)."""
    import torch
    from ase.units import GPa

    from zifsim.potentials.ase_bridge import lammps_state, open_bridged_lammps
    atoms = _zif4()
    atoms.rattle(0.02, seed=4)
    elements = ["C", "H", "N", "Zn"]
    lmp = open_bridged_lammps(atoms, nequip, elements, tmp_path)
    lmp.commands_list(["thermo_style custom step pe press pxx pyy pzz pxy pxz pyz vol", "run 0"])
    ref, f = lammps_state(lmp, elements)

    model = nequip.model_calculator.model   # the deployed TorchScript module itself
    i, j, S = reference_edges(ref, 6.0)
    types = torch.tensor([model.type_names.index(s) for s in ref.get_chemical_symbols()])
    out = model.model({"pos": torch.tensor(ref.positions, dtype=torch.float32),
                       "cell": torch.tensor(ref.cell.array, dtype=torch.float32),
                       "atom_types": types,
                       "edge_index": torch.tensor(np.stack([i, j])),
                       "edge_cell_shift": torch.tensor(S, dtype=torch.float32)})
    e_ref = float(out["total_energy"].detach().reshape(-1)[0])
    f_ref = out["forces"].detach().numpy().astype(float)
    s_ref = out["stress"].detach().numpy().reshape(3, 3).astype(float)
    pe = lmp.get_thermo("pe")
    assert abs(pe - e_ref) <= 2e-7 * abs(e_ref) + 1e-3   # float32 sum of ~6e4 eV
    assert np.abs(f_ref).max() > 0.05
    np.testing.assert_allclose(f, f_ref, atol=2e-4)
    p_lmp = [lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")]
    p_ref = [-s_ref[a, b] / (1e-4 * GPa) for a, b in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))]
    np.testing.assert_allclose(p_lmp, p_ref, rtol=1e-4, atol=1.0)  # bar
    assert nequip.model_calculator.last_edges == len(i)


@needs_torch
@pytest.mark.mlip
@pytest.mark.slow  # ~20 model calls on 34 atoms
def test_every_stage_type_and_npt_move_the_box(tmp_path, nequip, every_stage_protocol):
    """A few steps of each engine stage type (minimise + box, NVT, NPT ramp, shear, compress)."""
    from zifsim.engine.run import run_protocol
    protocol = every_stage_protocol("nequip_smoke", step_ps=0.001, relax_iter=1, relax_ftol=0.5,
                                    strain=0.01, rate_per_ps=20.0, pdamp_fs=100,
                                    thermo_every_fs=0.5, dump_every_fs=1.0)
    meta = run_protocol(_dia_zn(), protocol, nequip, tmp_path / "run", seed=7, threads=1,
                        progress_interval_s=1e9)
    assert meta["status"] == "complete"
    run_meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert run_meta["provider"]["registry_name"] == "NequIP_ZIF4"
    rows = list(csv.DictReader(open(tmp_path / "run" / "thermo.csv")))
    assert {"relax", "nvt", "heat", "shear", "hydro"} <= {r["stage"].split("-", 1)[-1] for r in rows}
    assert all(np.isfinite(float(r["pe_eV"])) for r in rows)

    def column(stage, key):
        return [float(r[key]) for r in rows if r["stage"].endswith(stage)]
    heat_v, heat_p = column("heat", "volume_A3"), column("heat", "press_bar")
    assert abs(heat_v[-1] - heat_v[0]) / heat_v[0] > 1e-4      # NPT moved the box ...
    assert np.sign(heat_v[-1] - heat_v[0]) == np.sign(heat_p[0])  # ... the way the pressure pushes
    shear = column("shear", "xy_A")
    assert max(shear) - min(shear) > 0.01
    hydro = column("hydro", "volume_A3")
    assert (max(hydro) - min(hydro)) / min(hydro) > 0.005


def test_registry_recommended_provider_is_checked(tmp_path):
    """configs/materials.yaml: `recommended_provider` names the most faithful model (docs/fidelity.md),
    `provider` stays the CPU-feasible one the main job runs; an unknown kind is a ConfigError."""
    from zifsim.registry import load_materials
    mats = load_materials()
    assert mats["ZIF-4"].recommended_provider == {"kind": "mlip", "model": "nequip"}
    assert mats["ZIF-4"].provider == "reaxff"
    bad = tmp_path / "materials.yaml"
    bad.write_text("references: {}\nmaterials:\n  X:\n    formula: Zn(im)2\n    metal: Zn\n"
                   "    linkers: {im: 2.0}\n    recommended_provider: gromacs\n")
    with pytest.raises(ConfigError, match="recommended_provider"):
        load_materials(bad)
