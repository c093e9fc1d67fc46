"""Invariance of the X-ray model of the ZIF-4 crystal: unit cell vs 2x2x2 supercell, RDF range 10/15/20 Å.

Prints, for pair-distance broadening 0 and 0.1 Å: g_ZnZn max difference, the D(r) a measurement
over Q 0.6125-23.99 Å⁻¹ (no Lorch; the Gaillac 2017 glass data) would see, its relative L2
change over 1-8 Å against r_max 20 Å, the Zn...Zn / Zn-N peak ratio, r-space Rw against
ZIF4glassa_31.dofr, and the FSDP of the powder-averaged reciprocal-lattice S(Q).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/xray_invariance.py
"""
from __future__ import annotations

import numpy as np


def main() -> int:
    from zifsim import settings
    from zifsim.analysis.synthetic import zif4_crystal
    from zifsim.analysis.xray import direct_structure_factor, first_sharp_peak, xray_of_atoms
    from zifsim.analysis.xray_data import read_measured
    from zifsim.compare.xray_fit import compare_xray
    meas = read_measured(settings.reference_dir() / "xray" / "ZIF-4-glass-Gaillac2017" / "ZIF4glassa_31.dofr")
    atoms = zif4_crystal()
    r = np.arange(1.0, 8.0, 0.02)
    fs = {n: first_sharp_peak(*direct_structure_factor(a, q_max=2.0, dq=0.02)[:2])
          for n, a in (("unit", atoms), ("2x2x2", atoms.repeat(2)))}
    print(f"FSDP (powder-averaged lattice S(Q), 0.02 1/Å bins): unit {fs['unit']:.3f}, 2x2x2 {fs['2x2x2']:.3f} 1/Å")
    print(f"{'sigma':>5s} {'cell':>6s} {'r_max':>5s} {'dgZnZn':>8s} {'L2 vs 20':>8s} {'ratio':>7s} {'Rw':>7s} {'Rw lorch':>8s}")
    for sigma in (0.0, 0.1):
        ref = None
        for cell, rm in (("unit", 20.0), ("unit", 15.0), ("unit", 10.0), ("2x2x2", 10.0), ("2x2x2", 20.0)):
            a = atoms if cell == "unit" else atoms.repeat(2)
            x = xray_of_atoms(a, r_max=rm, dr=0.02, sigma=sigma)
            d = x.measured_D(0.6125, 23.987, r=r)
            if ref is None:
                ref = (d, x._partials[("Zn", "Zn")])
            n = min(len(ref[1]), len(x._partials[("Zn", "Zn")]))
            dg = np.abs(ref[1][:n] - x._partials[("Zn", "Zn")][:n]).max() / ref[1].max()
            l2 = np.sqrt(np.sum((d - ref[0]) ** 2) / np.sum(ref[0] ** 2))
            ratio = d[(r > 5.5) & (r < 6.3)].max() / d[(r > 1.8) & (r < 2.2)].max()
            rw = compare_xray(x, meas, (1.0, 8.0)).fit["rw"]
            rwl = compare_xray(x, meas, (1.0, 8.0), lorch=True).fit["rw"]
            print(f"{sigma:5.2f} {cell:>6s} {rm:5.0f} {dg:8.1e} {l2:8.4f} {ratio:7.4f} {rw:7.4f} {rwl:8.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
