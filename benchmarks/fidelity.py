"""Fidelity of every force provider zifsim ships, on ZIF-4 crystal and first-principles glasses.

Providers: ReaxFF ffield_ZnN_2016, CHGNet 0.3.0 + D3(BJ), SevenNet-0 + D3(BJ),
and the deployed NequIP ZIF-4 model (trained on ab initio MD of ZIF-4), each
run the way zifsim runs it in production: inside LAMMPS (ReaxFF as a pair
style, the MLIPs through the ``fix external`` bridge).

Measured per provider:

(a) the ZIF-4 registry cell (272 atoms) relaxed, cell + positions (CG,
    ``fix box/relax aniso 0``, capped iterations): density (g/cm³, vs 1.21),
    mean Zn-N (Å, vs 1.99), Zn...Zn across an imidazolate (Å), Zn CN;
(b) NVT at 300 K of the crystal from its relaxed geometry of (a) (steps capped by cost):
    Zn-N mean and standard deviation over the second half of the frames, and their X-ray
    D(r) processed like the measured ZIF-4 glass D(r) at 31 °C (zifsim.compare.xray_fit):
    first peak positions beside the measured ones and Rw over 1-8 Å;
(c) the 10 first-principles glasses ``ZIF4_15glass*.cif`` (272 atoms, Gaillac
    et al. 2020): force RMSE against NequIP, energies relative to each model's
    mean over the 10 against NequIP's; a fixed-cell relaxation (CG, capped) of
    the first glasses: change of Zn CN and RMSD of the atoms;
(d) glass minus crystal energy per Zn against NequIP's: at the as-given geometries
    (the same atoms for every model) and after each model's capped relaxations;
(e) cost: wall seconds per atom-step of the MD, and per call;
(f) single points on the DFT-optimised ZIF-zni and ZIF-62 cells (forces ~0 in DFT).

Every provider runs in its own subprocess (``--provider NAME``) and writes
``OUT/NAME.json``; the parent then writes ``OUT/fidelity.csv``,
``OUT/fidelity.md`` and, with ``--docs docs/fidelity.md``, replaces the block
between ``<!-- fidelity:begin -->`` and ``<!-- fidelity:end -->`` there.

One command (niced; about 40 min on the loaded 2-core machine)::

    nice -n 10 python benchmarks/fidelity.py --out /tmp/fidelity --docs docs/fidelity.md

Caps (``--relax-iter``, ``--nvt-steps``, ``--glasses-relaxed``) are per
provider: the expensive MLIPs get fewer iterations and steps; the tables
print the caps that were used.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EV_PER_KCALMOL = 0.0433641043
PROVIDERS = {
    "reaxff": {"spec": {"kind": "reaxff", "file": "ffield_ZnN_2016"}, "label": "ReaxFF ZnN_2016"},
    "chgnet": {"spec": {"kind": "mlip", "model": "chgnet"}, "label": "CHGNet 0.3.0 + D3(BJ)"},
    "sevennet": {"spec": {"kind": "mlip", "model": "sevennet"}, "label": "SevenNet-0 + D3(BJ)"},
    "nequip": {"spec": {"kind": "mlip", "model": "nequip"}, "label": "NequIP ZIF-4 (Castel 2024)"},
}
#: default caps: (crystal relax CG iterations, NVT steps, glasses relaxed, glass relax iterations)
#: (the caps behind docs/fidelity.md: ReaxFF 1 ps of NVT; CHGNet 0.25 ps, SevenNet 0.05 ps,
#: NequIP 5 fs at 2-6 s per step on this CPU)
CAPS = {"reaxff": (3000, 4000, 3, 100), "chgnet": (20, 500, 1, 15), "sevennet": (20, 100, 1, 15),
        "nequip": (10, 10, 1, 6)}
QUICK_CAPS = (2, 4, 1, 2)  # --quick: a smoke run of the script (not physics)
TIMESTEP_FS = {"reaxff": 0.25, "chgnet": 0.5, "sevennet": 0.5, "nequip": 0.5}
DENSITY_EXP = 1.21
ZN_N_EXP = 1.99


# ---------------------------------------------------------------- one provider
class LammpsModel:
    """A provider driven in LAMMPS on one cell: single points, minimisation, NVT."""

    def __init__(self, provider, atoms, workdir: Path):
        from zifsim.lammps_loader import new_lammps
        from zifsim.engine.run import lammps_data_text
        self.provider, self.workdir = provider, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.elements = sorted(set(atoms.get_chemical_symbols()))
        data = workdir / "cell.data"
        data.write_text(lammps_data_text(atoms, self.elements, title="fidelity", atom_style=provider.atom_style))
        self.real = provider.units == "real"
        lmp = new_lammps()
        lmp.commands_list([f"units {provider.units}", f"atom_style {provider.atom_style}",
                           "atom_modify map array sort 0 0", f"read_data {data}"])
        if hasattr(provider, "prepare"):
            provider.prepare(workdir)
        lmp.commands_list(provider.setup_commands(self.elements))
        provider.attach(lmp, self.elements)
        lmp.commands_list(["thermo_style custom step temp pe press vol", "thermo 1000000"])
        self.lmp = lmp

    def _check(self):
        if hasattr(self.provider, "raise_if_failed"):
            self.provider.raise_if_failed()

    def state(self):
        """(atoms in tag order, pe eV, forces eV/Å) of the current LAMMPS state."""
        from zifsim.potentials.ase_bridge import lammps_state
        lmp = self.lmp
        atoms, f = lammps_state(lmp, self.elements)
        atoms.wrap()
        pe = float(lmp.get_thermo("pe"))
        if self.real:
            pe, f = pe * EV_PER_KCALMOL, f * EV_PER_KCALMOL
        return atoms, pe, f

    def single_point(self):
        t0 = time.perf_counter()
        self.lmp.command("run 0")
        self._check()
        return (*self.state(), time.perf_counter() - t0)

    def minimise(self, iters: int, box: bool):
        lmp = self.lmp
        ftol = 0.01 / EV_PER_KCALMOL if self.real else 0.01
        t0 = time.perf_counter()
        cmds = ["min_style cg"]
        if box:
            cmds.append("fix zs_br all box/relax aniso 0.0 vmax 0.001")
        cmds.append(f"minimize 0.0 {ftol:.6g} {int(iters)} {int(iters) * 3}")
        lmp.commands_list(cmds)
        if box:
            lmp.command("unfix zs_br")
        self._check()
        return time.perf_counter() - t0

    def nvt(self, steps: int, timestep_fs: float, every: int):
        lmp = self.lmp
        dt = timestep_fs if self.real else timestep_fs / 1000.0
        tdamp = 100.0 * dt
        dump = self.workdir / "nvt.lammpstrj"
        lmp.commands_list([f"timestep {dt}", "velocity all create 300 4928459 dist gaussian mom yes",
                           f"fix zs_nvt all nvt temp 300 300 {tdamp}",
                           f"dump zs_d all custom {every} {dump} id type x y z",
                           "dump_modify zs_d sort id"])
        t0 = time.perf_counter()
        lmp.command(f"run {int(steps)}")
        wall = time.perf_counter() - t0
        lmp.commands_list(["undump zs_d", "unfix zs_nvt"])
        self._check()
        return _read_dump(dump, self.elements), wall, float(lmp.get_thermo("temp"))

    def close(self):
        self.lmp.close()


def _read_dump(dump: Path, elements: list[str]) -> list:
    """The frames of a ``dump custom id type x y z`` file as ase.Atoms with their elements."""
    import ase.io
    frames = ase.io.read(dump, index=":", format="lammps-dump-text")
    for fr in frames:
        fr.set_chemical_symbols([elements[t - 1] for t in fr.numbers])
    return frames


def _geometry(atoms) -> dict:
    from zifsim.structures.nets import net_report
    rep = net_report(atoms, "Zn")
    mn = np.asarray(rep["mn_A"], dtype=float)
    mm = np.asarray(rep["intra_mm_A"], dtype=float)
    cn = np.asarray(rep["cn"], dtype=float)
    return {"density_gcm3": float(rep["density_gcm3"]), "zn_n_mean_A": float(mn.mean()) if len(mn) else None,
            "zn_zn_im_mean_A": float(mm.mean()) if len(mm) else None, "cn_mean": float(cn.mean()),
            "cn": cn.tolist()}


def _rmsd(a, b) -> float:
    d = b.positions - a.positions
    frac = d @ np.linalg.inv(a.cell.array)
    d = (frac - np.rint(frac)) @ a.cell.array
    return float(np.sqrt((d ** 2).sum(axis=1).mean()))


def _provider(name: str):
    """The provider ``name`` of :data:`PROVIDERS`, one torch thread."""
    import torch

    from zifsim.potentials import get_provider
    torch.set_num_threads(1)
    spec = dict(PROVIDERS[name]["spec"])
    if name == "reaxff":
        from zifsim.potentials.reaxff import resolve_forcefield_file
        spec["file"] = str(resolve_forcefield_file(spec["file"]))
    else:
        spec["threads"] = 1
    return get_provider(spec)


def _glass_paths() -> list[Path]:
    from zifsim import settings
    return sorted((settings.reference_dir() / "structures" / "aimd-glasses").glob("ZIF4_15glass*.cif"))


def run_provider(name: str, out: Path, caps, n_glasses: int | None = None, resume: bool = False,
                 redo_nvt: bool = False) -> dict:
    from zifsim.engine import read_cell
    relax_iter, nvt_steps, n_glass_relax, glass_iter = caps
    provider = _provider(name)
    crystal = read_cell(ROOT / "structures" / "ZIF-4" / "cell.extxyz")
    work = out / f"work-{name}"
    res = {"provider": name, "label": PROVIDERS[name]["label"], "metadata": provider.metadata(),
           "caps": {"crystal_relax_iter": relax_iter, "nvt_steps": nvt_steps,
                    "glasses_relaxed": n_glass_relax, "glass_relax_iter": glass_iter},
           "load_start": os.getloadavg()[0]}

    def save():
        (out / f"{name}.json").write_text(json.dumps(res, indent=1, default=float))

    done = json.loads((out / f"{name}.json").read_text()) if (out / f"{name}.json").is_file() else {}
    if done and resume:  # keep the parts an earlier (interrupted) run finished
        for key in ("crystal_given", "crystal_relaxed", "nvt", "load_start"):
            if key in done:
                res[key] = done[key]
        res["caps"]["crystal_relax_iter"] = done["caps"]["crystal_relax_iter"]
        if redo_nvt:
            res.pop("nvt", None)  # run (b) again with this call's NVT cap
        elif "nvt" in done:
            res["caps"]["nvt_steps"] = done["caps"]["nvt_steps"]
        res["glasses"] = [g for g in done.get("glasses", [])]
    dump = work / "nvt" / "nvt.lammpstrj"
    if "nvt" in res and "D_rw" not in res["nvt"] and dump.is_file():  # (b) of an older run: add its D(r)
        frames = _read_dump(dump, sorted(set(crystal.get_chemical_symbols())))
        res["nvt"].update(_d_of_r(frames[len(frames) // 2:]))
        save()
    if "crystal_relaxed" in res and "nvt" not in res:
        from ase.io import read as _read
        atoms1 = _read(work / "crystal" / "relaxed.extxyz")

    # (a) crystal: single point as given, then relaxation of cell + positions
    if "crystal_relaxed" not in res:
        atoms1 = _crystal(provider, crystal, work, relax_iter, res)
        save()
        print(f"[{name}] crystal relaxed: {res['crystal_relaxed']}", flush=True)
    if "nvt" not in res:
        _nvt(provider, atoms1, work, nvt_steps, name, res, len(crystal))
        save()
        print(f"[{name}] nvt: {res['nvt']}", flush=True)
    _glasses(provider, work, res, name, n_glass_relax, glass_iter, n_glasses, save)
    res["load_end"] = os.getloadavg()[0]
    save()
    return res


def _crystal(provider, crystal, work, relax_iter, res):
    model = LammpsModel(provider, crystal, work / "crystal")
    atoms0, e0, f0, t_call = model.single_point()
    res["crystal_given"] = {"energy_eV": e0, "call_s": t_call, **_geometry(atoms0),
                            "pressure_bar": float(model.lmp.get_thermo("press")) *
                            (1.01325 if model.real else 1.0)}
    t = model.minimise(relax_iter, box=True)
    atoms1, e1, f1, _ = model.state() + (None,)
    res["crystal_relaxed"] = {"energy_eV": e1, "wall_s": t, "fmax_eV_A": float(np.abs(f1).max()),
                              **_geometry(atoms1)}
    res["crystal_relaxed"]["iterations"] = int(model.lmp.extract_global("ntimestep"))
    model.close()
    atoms1.write(work / "crystal" / "relaxed.extxyz")
    return atoms1


def _nvt(provider, atoms1, work, nvt_steps, name, res, natoms):
    # (b) NVT 300 K from the relaxed crystal of (a)
    model = LammpsModel(provider, atoms1, work / "nvt")
    every = max(1, nvt_steps // 20)
    frames, wall, temp = model.nvt(nvt_steps, TIMESTEP_FS[name], every)
    model.close()
    zn_n = []
    for fr in frames[len(frames) // 2:]:
        from zifsim.structures.nets import net_report
        zn_n.extend(net_report(fr, "Zn")["mn_A"])
    zn_n = np.asarray(zn_n, dtype=float)
    res["nvt"] = {"steps": nvt_steps, "timestep_fs": TIMESTEP_FS[name],
                  "time_ps": nvt_steps * TIMESTEP_FS[name] / 1000.0, "wall_s": wall,
                  "s_per_atom_step": wall / (nvt_steps + 1) / natoms, "final_T_K": temp,
                  "zn_n_mean_A": float(zn_n.mean()), "zn_n_std_A": float(zn_n.std()),
                  "frames_used": len(frames) - len(frames) // 2, "load": os.getloadavg()[0],
                  **_d_of_r(frames[len(frames) // 2:])}


#: the measured glass D(r) the NVT crystal's first peaks are read against (31 °C, Gaillac 2017)
MEASURED_D = "xray/ZIF-4-glass-Gaillac2017/ZIF4glassa_31.dofr"
D_FIT_RANGE = (1.0, 8.0)   # Å: the short-range order a crystal and its glass share (X24)


def _peaks(x, y, lo=1.0, hi=8.0):
    """Positions (Å) of the D(r) maxima in [lo, hi] with a prominence above 5 % of the largest |D|."""
    from scipy.signal import find_peaks
    sel = (x >= lo) & (x <= hi)
    pk, _ = find_peaks(y[sel], prominence=0.05 * np.abs(y[sel]).max())
    return [round(float(v), 3) for v in x[sel][pk]]


def _d_of_r(atoms_frames) -> dict:
    """(b) D(r) of the NVT frames processed like the measurement (its Q range, zifsim.compare),
    its first peaks beside the measured ones and Rw over :data:`D_FIT_RANGE`; {} without the data."""
    from zifsim import settings
    from zifsim.analysis.trajectory import frame_from_atoms
    from zifsim.analysis.xray import xray_of_atoms
    from zifsim.analysis.xray_data import read_measured
    from zifsim.compare.xray_fit import compare_xray
    path = settings.reference_dir() / MEASURED_D
    if not path.is_file():
        return {}
    measured = read_measured(path)
    xpdf = xray_of_atoms([frame_from_atoms(a) for a in atoms_frames], r_max=D_FIT_RANGE[1] + 5.0)
    fit = compare_xray(xpdf, measured, D_FIT_RANGE)            # the X-ray issue's comparison
    smooth = compare_xray(xpdf, measured, D_FIT_RANGE, lorch=True)  # Lorch: no termination ripples
    return {"D_rw": float(fit.fit["rw"]), "D_scale": float(fit.fit["scale"]), "D_measured": MEASURED_D,
            "D_peaks_sim_A": _peaks(smooth.x, smooth.y_sim), "D_peaks_measured_A": _peaks(measured.x, measured.y),
            "D_peaks_processing": "model D(r) over the measured Q range with the Lorch modification"}


def _glasses(provider, work, res, name, n_glass_relax, glass_iter, n_glasses, save):
    import ase.io
    # (c) glasses: single points, then capped fixed-cell relaxations of the first ones
    res.setdefault("glasses", [])
    have = {g["name"] for g in res["glasses"]}
    for k, path in enumerate(_glass_paths()[:n_glasses]):
        if path.stem in have:
            continue
        g = ase.io.read(path)
        model = LammpsModel(provider, g, work / f"glass{k + 1:02d}")
        ga, ge, gf, t_call = model.single_point()
        row = {"name": path.stem, "energy_eV": ge, "forces": gf.tolist(), "call_s": t_call,
               "cn_given": _geometry(ga)["cn_mean"]}
        if k < n_glass_relax:
            t = model.minimise(glass_iter, box=False)
            gb, gbe, gbf, _ = model.state() + (None,)
            geo = _geometry(gb)
            row.update({"relaxed_energy_eV": gbe, "relax_wall_s": t, "rmsd_A": _rmsd(ga, gb),
                        "cn_relaxed": geo["cn_mean"], "fmax_relaxed": float(np.abs(gbf).max()),
                        "cn_changed_zn": int(np.sum(np.asarray(geo["cn"]) != np.asarray(_geometry(ga)["cn"]))),
                        "relax_iterations": int(model.lmp.extract_global("ntimestep"))})
        model.close()
        res["glasses"].append(row)
        save()
        print(f"[{name}] {path.stem}: E {ge:.3f} eV, {t_call:.1f} s", flush=True)


DFT_CELLS = ("ZIF-zni_dft.cif", "ZIF-62_dft_ordered.cif")


def run_dft_cells(name: str, out: Path) -> dict:
    """(f) Single points on the DFT-optimised cells of ZIF-zni and ZIF-62 (forces ~0 in DFT):
    the RMS and largest force of each model there say how far its minimum lies from DFT's,
    on Zn imidazolates other than ZIF-4 (for NequIP an extrapolation). Writes OUT/NAME.dft.json."""
    import ase.io

    from zifsim import settings
    provider = _provider(name)
    rows = []
    for cif in DFT_CELLS:
        atoms = ase.io.read(settings.reference_dir() / "structures" / cif)
        model = LammpsModel(provider, atoms, out / f"work-{name}" / Path(cif).stem)
        _, e, f, t_call = model.single_point()
        press = float(model.lmp.get_thermo("press")) * (1.01325 if model.real else 1.0)
        model.close()
        fn = np.linalg.norm(f, axis=1)
        rows.append({"cell": Path(cif).stem, "natoms": len(atoms), "energy_eV": e,
                     "force_rms_eV_A": float(np.sqrt((f ** 2).sum(axis=1).mean())),
                     "force_max_eV_A": float(fn.max()), "pressure_GPa": press / 1e4, "call_s": t_call})
        print(f"[{name}] {cif}: {rows[-1]}", flush=True)
    res = {"provider": name, "dft_cells": rows, "load": os.getloadavg()[0]}
    (out / f"{name}.dft.json").write_text(json.dumps(res, indent=1))
    return res


# ---------------------------------------------------------------- tables
def _fmt(v, f="{:.3f}"):
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f.format(v)


def assemble(out: Path, names: list[str]) -> str:
    data = {n: json.loads((out / f"{n}.json").read_text()) for n in names if (out / f"{n}.json").is_file()}
    ref = data.get("nequip")
    lines = ["| provider | density as given → relaxed (g/cm³, exp 1.21) | Zn-N relaxed (Å, exp 1.99) | "
             "Zn...Zn across im (Å) | Zn CN | p as given (GPa) | relax iterations (cap), fmax eV/Å |",
             "|---|---|---|---|---|---|---|"]
    csv = ["provider,quantity,value,unit"]
    for n, d in data.items():
        g, r = d["crystal_given"], d.get("crystal_relaxed", {})
        lines.append(f"| {d['label']} | {_fmt(g['density_gcm3'])} → {_fmt(r.get('density_gcm3'))} | "
                     f"{_fmt(r.get('zn_n_mean_A'))} | {_fmt(r.get('zn_zn_im_mean_A'), '{:.2f}')} | "
                     f"{_fmt(r.get('cn_mean'), '{:.2f}')} | {_fmt(g['pressure_bar'] / 1e4, '{:.2f}')} | "
                     f"{r.get('iterations', '-')} ({d['caps']['crystal_relax_iter']}), "
                     f"{_fmt(r.get('fmax_eV_A'), '{:.2f}')} |")
        for q in ("density_gcm3", "zn_n_mean_A", "zn_zn_im_mean_A", "cn_mean"):
            csv.append(f"{n},crystal_relaxed_{q},{r.get(q)},")
        csv.append(f"{n},crystal_given_pressure,{g['pressure_bar']},bar")
    measured_peaks = next((d["nvt"]["D_peaks_measured_A"] for d in data.values()
                           if "D_peaks_measured_A" in d.get("nvt", {})), None)
    peaks_head = ("D(r) peaks 1-8 Å, 2nd half (measured glass: " + ", ".join(f"{p:.2f}" for p in measured_peaks) + ")"
                  if measured_peaks else "D(r) peaks 1-8 Å")
    lines += ["", f"| provider | NVT 300 K steps × fs (ps) | Zn-N mean ± sd (Å), 2nd half | final T (K) | "
              f"{peaks_head} | Rw D(r) 1-8 Å (scale) | "
              "s per atom-step | s per call (crystal, 272 atoms) | load |", "|---|---|---|---|---|---|---|---|---|"]
    for n, d in data.items():
        v = d.get("nvt")
        if not v:
            continue
        peaks = ", ".join(f"{p:.2f}" for p in v["D_peaks_sim_A"]) if "D_peaks_sim_A" in v else "-"
        rw = f"{v['D_rw']:.3f} ({v['D_scale']:.3f})" if "D_rw" in v else "-"
        lines.append(f"| {d['label']} | {v['steps']} × {v['timestep_fs']} ({v['time_ps']:.3f}) | "
                     f"{v['zn_n_mean_A']:.3f} ± {v['zn_n_std_A']:.3f} | {v['final_T_K']:.0f} | {peaks} | {rw} | "
                     f"{v['s_per_atom_step']:.2e} | {d['crystal_given']['call_s']:.2f} | {v['load']:.1f} |")
        csv.append(f"{n},nvt_zn_n_mean,{v['zn_n_mean_A']},A")
        if "D_rw" in v:
            csv.append(f"{n},nvt_D_rw_1_8A,{v['D_rw']},")
        csv.append(f"{n},s_per_atom_step,{v['s_per_atom_step']},s")
    if ref and ref.get("glasses"):
        rg = {g["name"]: g for g in ref["glasses"]}
        e_ref = np.array([g["energy_eV"] for g in ref["glasses"]])
        lines += ["", f"| provider | force RMSE vs NequIP (eV/Å), {len(rg)} glasses | relative glass energies: "
                  "RMSE vs NequIP (meV/atom) | glass − crystal per Zn (eV), as given | NequIP's | "
                  "after the capped relaxations | NequIP's | "
                  "relaxed (fixed cell): glasses × iterations | RMSD (Å) | mean Zn CN given → relaxed | Zn whose CN changed |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for n, d in data.items():
            gl = [g for g in d.get("glasses", []) if g["name"] in rg]
            if not gl:
                continue
            fr = [np.asarray(g["forces"]) - np.asarray(rg[g["name"]]["forces"]) for g in gl]
            f_rmse = float(np.sqrt(np.mean(np.concatenate([x.ravel() for x in fr]) ** 2)))
            e = np.array([g["energy_eV"] for g in gl])
            er = np.array([rg[g["name"]]["energy_eV"] for g in gl])
            de = ((e - e.mean()) - (er - er.mean())) / 272 * 1000
            nzn = 16
            dgc = (e.mean() - d["crystal_given"]["energy_eV"]) / nzn
            dgc_ref = (er.mean() - ref["crystal_given"]["energy_eV"]) / nzn
            relaxed = [g["relaxed_energy_eV"] for g in gl if "relaxed_energy_eV" in g]
            dgc_rel = ((np.mean(relaxed) - d["crystal_relaxed"]["energy_eV"]) / nzn) if relaxed else None
            ref_rel = [g["relaxed_energy_eV"] for g in ref["glasses"] if "relaxed_energy_eV" in g]
            dgc_rel_ref = ((np.mean(ref_rel) - ref["crystal_relaxed"]["energy_eV"]) / nzn) if ref_rel else None
            rel = [g for g in gl if "rmsd_A" in g]
            rmsd = np.mean([g["rmsd_A"] for g in rel]) if rel else None
            cn0 = np.mean([g["cn_given"] for g in rel]) if rel else None
            cn1 = np.mean([g["cn_relaxed"] for g in rel]) if rel else None
            changed = sum(g["cn_changed_zn"] for g in rel) if rel else None
            iters = f"{len(rel)} × {rel[0]['relax_iterations']}" if rel else "-"
            lines.append(f"| {d['label']} | {f_rmse:.3f} | {np.sqrt(np.mean(de ** 2)):.1f} | {dgc:.3f} | "
                         f"{dgc_ref:.3f} | {_fmt(dgc_rel)} | {_fmt(dgc_rel_ref)} | {iters} | {_fmt(rmsd)} | {_fmt(cn0, '{:.2f}')} → {_fmt(cn1, '{:.2f}')} | "
                         f"{changed if changed is not None else '-'} of {16 * len(rel)} |")
            csv += [f"{n},glass_force_rmse_vs_nequip,{f_rmse},eV/A",
                    f"{n},glass_rel_energy_rmse_vs_nequip,{np.sqrt(np.mean(de ** 2))},meV/atom",
                    f"{n},glass_minus_crystal_per_Zn,{dgc},eV",
                    f"{n},glass_minus_crystal_per_Zn_relaxed,{dgc_rel},eV", f"{n},glass_relax_rmsd,{rmsd},A"]
    dft = {n: json.loads((out / f"{n}.dft.json").read_text()) for n in names
           if (out / f"{n}.dft.json").is_file()}
    if dft:
        lines += ["", "| provider | DFT-optimised cell | atoms | RMS force (eV/Å; DFT ≈ 0) | largest force (eV/Å) | "
                  "pressure (GPa) |", "|---|---|---|---|---|---|"]
        for n, d in dft.items():
            for r in d["dft_cells"]:
                lines.append(f"| {PROVIDERS[n]['label']} | {r['cell']} | {r['natoms']} | {r['force_rms_eV_A']:.3f} | "
                             f"{r['force_max_eV_A']:.2f} | {r['pressure_GPa']:.2f} |")
                csv.append(f"{n},{r['cell']}_force_rms,{r['force_rms_eV_A']},eV/A")
    loads = ", ".join(f"{n} {d['load_start']:.1f}-{d.get('load_end', float('nan')):.1f}" for n, d in data.items())
    lines += ["", f"Load average (1 min) at start-end of each provider's run: {loads}."]
    (out / "fidelity.csv").write_text("\n".join(csv) + "\n")
    text = "\n".join(lines) + "\n"
    (out / "fidelity.md").write_text(text)
    return text


def replace_block(doc: Path, text: str) -> None:
    from zifsim.fileio import atomic_path
    begin, end = "<!-- fidelity:begin -->", "<!-- fidelity:end -->"
    old = doc.read_text() if doc.is_file() else f"{begin}\n{end}\n"
    if begin not in old or end not in old:
        old += f"\n{begin}\n{end}\n"
    head, rest = old.split(begin, 1)
    _, tail = rest.split(end, 1)
    with atomic_path(doc) as tmp:
        tmp.write_text(f"{head}{begin}\n{text}{end}{tail}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/fidelity", help="folder for per-provider JSON and tables")
    ap.add_argument("--providers", nargs="+", default=list(PROVIDERS), choices=list(PROVIDERS))
    ap.add_argument("--provider", default=None, help=argparse.SUPPRESS)  # worker mode
    ap.add_argument("--parallel", type=int, default=1, help="provider subprocesses at once")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny caps, 2 glasses")
    ap.add_argument("--caps", default=None, metavar="R,N,G,I",
                    help="with --provider: crystal relax iterations, NVT steps, glasses relaxed, "
                         "glass relax iterations (default: CAPS in this file)")
    ap.add_argument("--dft-cells", action="store_true",
                    help="with --provider: only (f), single points on the DFT-optimised ZIF-zni / ZIF-62 cells")
    ap.add_argument("--resume", action="store_true",
                    help="with --provider: keep the stages OUT/NAME.json already holds")
    ap.add_argument("--redo-nvt", action="store_true",
                    help="with --provider --resume: run (b) again with the NVT steps of --caps, keep the rest")
    ap.add_argument("--assemble-only", action="store_true", help="only rebuild the tables from OUT/*.json")
    ap.add_argument("--docs", default=None, help="markdown file whose fidelity block is replaced")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.provider and args.dft_cells:
        run_dft_cells(args.provider, out)
        return 0
    if args.provider:
        caps = QUICK_CAPS if args.quick else CAPS[args.provider]
        if args.caps:
            caps = tuple(int(v) for v in args.caps.split(","))
        run_provider(args.provider, out, caps, n_glasses=2 if args.quick else None, resume=args.resume,
                     redo_nvt=args.redo_nvt)
        return 0
    if not args.assemble_only:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        pending = list(args.providers)
        running: list[tuple[str, subprocess.Popen]] = []
        failed = []
        while pending or running:
            while pending and len(running) < args.parallel:
                n = pending.pop(0)
                log = open(out / f"{n}.log", "w")
                cmd = [sys.executable, __file__, "--out", str(out), "--provider", n]
                if not args.quick:  # (f) after the rest, same subprocess slot
                    cmd = ["bash", "-c", shlex.join(cmd) + " && " + shlex.join(cmd + ["--dft-cells"])]
                running.append((n, subprocess.Popen(cmd + (["--quick"] if args.quick else []), stdout=log, stderr=subprocess.STDOUT,
                                                    env=env)))
            time.sleep(5)
            for n, p in list(running):
                if p.poll() is not None:
                    running.remove((n, p))
                    if p.returncode:
                        failed.append(n)
                    print(f"{n}: exit {p.returncode} (log {out / (n + '.log')})", flush=True)
        if failed:
            print(f"failed: {failed}", file=sys.stderr)
    text = assemble(out, list(PROVIDERS))
    print(text)
    if args.docs:
        replace_block(Path(args.docs), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
