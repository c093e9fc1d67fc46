"""Search for a denser, lower-energy Cd(im)2 (dia-c) minimum of CHGNet + D3(BJ).

The default net build (``build_net_cell("dia-c", "Cd")``) relaxes from the
symmetric embedding and may keep its symmetry. This script starts from that
relaxed cell, repeats it (``--repeat``: 1 = 4 Cd, 2x1x1 = 8 Cd, 2x2x1 = 16 Cd
...), applies a random symmetric strain (each component uniform in
``+-strain``) and rattles the atoms (Gaussian, ``rattle`` Å), and relaxes
positions and cell with the same recipe as the build (FIRE on a
FrechetCellFilter, ``fmax`` eV/Å, 0 bar). Optionally an NVT/NPT anneal
(``--anneal-ps``, ASE Berendsen NPT at 0 bar, ``--temp`` K)
comes first. One JSON line per run: energy per Cd (eV), Cd per nm³, density
(g/cm³), Cd CN, tau4, Cd...Cd across a linker and between the networks (Å).

Usage::

    python benchmarks/search_cd_im2.py --repeat 1 1 1 --seeds 0 1 2 --strain 0.05 --rattle 0.08 \
        [--anneal-ps 0] [--fmax 0.05] [--steps 600] [--threads 2] [--out runs.jsonl]

A run of the 4-Cd cell takes 1-3 min on 2 idle cores; 16 Cd about 4x longer per step.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def report(atoms, energy: float) -> dict:
    """Energy per Cd (eV) and the net geometry of a relaxed Cd(im)2 cell."""
    from zifsim.structures.nets import net_report
    r = net_report(atoms, "Cd")
    inter = np.asarray(r["inter_mm_A"])
    return {"n_cd": r["n_metal"], "E_per_Cd_eV": energy / r["n_metal"],
            "Cd_per_nm3": r["metal_density_nm3"], "density_gcm3": r["density_gcm3"],
            "cn": sorted(set(r["cn"])), "tau4_min": float(np.nanmin(r["tau4"])),
            "tau4_mean": float(np.nanmean(r["tau4"])),
            "intra_min_A": min(r["intra_mm_A"]), "intra_max_A": max(r["intra_mm_A"]),
            "intra_mean_A": float(np.mean(r["intra_mm_A"])),
            "inter_first_A": float(inter.min()) if len(inter) else None,
            "inter_lt_7p2_A": [round(float(x), 2) for x in inter[inter < 7.2]][:24],
            "n_networks": r["n_networks"], "cellpar": [round(float(x), 3) for x in atoms.cell.cellpar()]}


def anneal(atoms, calc, temp: float, ps: float, seed: int, dt_fs: float = 1.0) -> None:
    """NPT MD at ``temp`` K, 0 bar, for ``ps`` ps (ASE Berendsen thermostat and anisotropic
    barostat, time step ``dt_fs`` fs): lets the cell leave the relaxed cell's symmetry."""
    from ase import units
    from ase.md.nptberendsen import Inhomogeneous_NPTBerendsen
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    atoms.calc = calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=temp, rng=np.random.default_rng(seed))
    md = Inhomogeneous_NPTBerendsen(atoms, timestep=dt_fs * units.fs, temperature_K=temp,
                                    pressure_au=0.0, taut=100 * units.fs, taup=500 * units.fs,
                                    compressibility_au=1.0 / (20.0 * units.GPa))
    md.run(int(ps * 1000 / dt_fs))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, nargs=3, default=[1, 1, 1])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--strain", type=float, default=0.05)
    p.add_argument("--rattle", type=float, default=0.08)
    p.add_argument("--anneal-ps", type=float, default=0.0)
    p.add_argument("--temp", type=float, default=350.0)
    p.add_argument("--fmax", type=float, default=0.05)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reference", action="store_true", help="also re-evaluate the default cell")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)

    import torch
    torch.set_num_threads(a.threads)
    from zifsim.potentials.mlip import MLIPProvider
    from zifsim.structures.nets import build_net_cell, relax_cell
    prov = MLIPProvider(threads=a.threads)
    base = build_net_cell("dia-c", "Cd", provider=prov)
    out = open(a.out, "a") if a.out else sys.stdout
    if a.reference:
        ref = base.copy()
        ref.calc = prov.calculator
        e = float(ref.get_potential_energy())
        out.write(json.dumps({"run": "default", **report(ref, e),
                              "relaxation": base.info.get("relaxation")}) + "\n")
        out.flush()
    for seed in a.seeds:
        rng = np.random.default_rng(seed)
        atoms = base.repeat(tuple(a.repeat))
        eps = rng.uniform(-a.strain, a.strain, (3, 3))
        eps = 0.5 * (eps + eps.T)
        atoms.set_cell(np.asarray(atoms.cell) @ (np.eye(3) + eps), scale_atoms=True)
        atoms.positions += rng.normal(0.0, a.rattle, atoms.positions.shape)
        t0 = time.perf_counter()
        if a.anneal_ps > 0:
            anneal(atoms, prov.calculator, a.temp, a.anneal_ps, seed)
        s = relax_cell(atoms, prov, fmax=a.fmax, steps=a.steps)
        atoms.calc = prov.calculator
        e = float(atoms.get_potential_energy())
        rec = {"run": f"repeat{a.repeat}-seed{seed}", "strain": a.strain, "rattle": a.rattle,
               "anneal_ps": a.anneal_ps, "temp_K": a.temp if a.anneal_ps else None,
               **report(atoms, e), "steps": s["steps"], "converged": s["converged"],
               "wall_s": round(time.perf_counter() - t0, 1)}
        out.write(json.dumps(rec) + "\n")
        out.flush()
        if a.out:
            atoms.calc = None
            import ase.io
            ase.io.write(a.out.replace(".jsonl", f"-{'x'.join(map(str, a.repeat))}-s{seed}"
                                       f"{'-md' if a.anneal_ps else ''}.extxyz"), atoms)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
