"""``zifsim compare-xray SOURCE MEASURED --kind D --fit-range 1 8 --out DIR``: model vs measured X-ray curve."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``compare-xray`` sub-command."""
    p = subparsers.add_parser(
        "compare-xray", help="score a structure or run against measured X-ray data (Rw, overlay)",
        description="Compute the X-ray total scattering of SOURCE (a structure file, or a run directory: "
                    "the frames of one stage averaged), process it like the MEASURED curve (its Q range, "
                    "with or without Lorch), fit the best scale (and optionally an offset) over --fit-range "
                    "and write DIR/fit.json (rw, scale, fit range, frames used, processing), DIR/fit.csv and "
                    "DIR/overlay.png. Conventions and file kinds: docs/xray.md.")
    p.add_argument("source", metavar="SOURCE", help="structure file (CIF/extxyz/data) or run directory")
    p.add_argument("measured", metavar="MEASURED", help="measured curve (PDFgetX3 .gr/.fq/.sq, "
                   "RMCProfile .dofr/.int01, or plain columns with --kind)")
    p.add_argument("--kind", default=None, help="function in MEASURED: D (D(r) = PDFgetX3 G(r), Å⁻²), Gk "
                   "(Keen's dimensionless G(r)), S, FQ (Q[S-1], Å⁻¹), Fk (S-1, RMCProfile F(Q)); "
                   "required for plain columns, checked against the file otherwise")
    p.add_argument("--fit-range", nargs=2, type=float, required=True, metavar=("LOW", "HIGH"),
                   help="fit range in Å (r-space) or Å⁻¹ (Q-space)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--q-range", nargs=2, type=float, default=None, metavar=("QMIN", "QMAX"),
                   help="Q range (Å⁻¹) the r-space data were made from (default: file header or the "
                        "F(Q) file with the same stem)")
    p.add_argument("--lorch", action="store_true", help="the data were made with a Lorch modification function")
    p.add_argument("--offset", action="store_true", help="fit a flat offset too")
    p.add_argument("--r-max", type=float, default=20.0, metavar="Å", help="model RDF range (default 20 Å)")
    p.add_argument("--dr", type=float, default=0.01, metavar="Å", help="RDF bin (default 0.01 Å)")
    p.add_argument("--sigma", type=float, default=0.0, metavar="Å",
                   help="Gaussian broadening of pair distances, for static structures (default 0)")
    p.add_argument("--r-window", choices=["none", "lorch"], default=None,
                   help="r window of the model S(Q) for Q-space data (default: "
                        "zifsim.analysis.xray.DEFAULT_R_WINDOW, lorch, as in the report)")
    p.add_argument("--norm", choices=["fz", "f2"], default="fz", help="X-ray weights over <f>² (fz) or <f²>")
    p.add_argument("--x-unit", choices=["A", "nm"], default=None, help="x unit of MEASURED (default Å / Å⁻¹)")
    p.add_argument("--stage", default=None, help="run stage to average (default: the last)")
    p.add_argument("--every", type=int, default=1, help="use every N-th frame (default 1)")
    p.add_argument("--frames", default=None, metavar="START:STOP", help="frames of the stage (slice)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compare; returns the exit code. Inputs are checked before anything is written."""
    from zifsim.analysis.xray import DEFAULT_R_WINDOW, xray_of_atoms
    from zifsim.analysis.xray_data import read_measured
    from zifsim.compare.xray_fit import compare_xray, load_frames, q_range_for, write_fit
    measured = read_measured(args.measured, kind=args.kind, x_unit=args.x_unit)
    if measured.space == "r":
        q_range_for(measured, args.q_range)  # refuse an unknown processing before computing
    frames, desc = load_frames(args.source, stage=args.stage, every=args.every, frames=args.frames)
    q_need = (args.q_range[0] if args.q_range else float(measured.meta.get("qmin", 0) or 0)) + 0.5
    x = xray_of_atoms(frames, r_max=args.r_max, dr=args.dr, sigma=args.sigma, lattice_q_max=max(1.5, q_need),
                      norm=args.norm)
    desc["source"] = str(args.source)
    fit = compare_xray(x, measured, args.fit_range, q_range=args.q_range, lorch=args.lorch, offset=args.offset,
                       r_window=args.r_window or DEFAULT_R_WINDOW, frames=desc, label=str(args.source).rstrip("/").split("/")[-1])
    fit.processing["sigma_A"] = args.sigma
    from pathlib import Path
    res = write_fit([fit], args.out, title=f"{Path(args.source).name} vs {Path(args.measured).name}")
    print(f"Rw = {res['rw']:.4f}, scale = {res['scale']:.4g} over {args.fit_range[0]:g}-{args.fit_range[1]:g} "
          f"({measured.kind}, {desc['n_frames']} frame(s)) -> {args.out}/fit.json, overlay.png")
    return 0
