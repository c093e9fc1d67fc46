"""``zifsim run CELL --protocol NAME|PATH --out RUNDIR``: run a protocol on a cell in LAMMPS."""
from __future__ import annotations

import argparse
import os


def register(subparsers) -> None:
    """Add the ``run`` sub-command."""
    p = subparsers.add_parser(
        "run", help="run an MD protocol (minimise / melt-quench / shear ...) on a cell",
        description="Run a protocol of MD stages on a cell with ReaxFF or an MLIP in LAMMPS. "
                    "An existing RUNDIR is resumed: complete stages are skipped, an interrupted "
                    "stage continues from its last checkpoint. Under MPI launch it with "
                    "`mpiexec -n N zifsim run ...` or `srun zifsim run ...`.")
    p.add_argument("cell", help="cell file: .extxyz, .cif or LAMMPS .data (zifsim build writes them)")
    p.add_argument("--protocol", required=True,
                   help="protocol name in configs/protocols (e.g. tiny, melt_quench_short) or a YAML path")
    p.add_argument("--out", required=True, help="run directory (created or resumed)")
    p.add_argument("--provider", default="reaxff", choices=["reaxff", "mlip"], help="force model (default reaxff)")
    p.add_argument("--forcefield", default=None,
                   help="ReaxFF parameter file (path or name in $ZIFSIM_FORCEFIELD_DIR; default ffield_ZnN_2016) "
                        "or MLIP model name")
    p.add_argument("--seed", type=int, default=12345, help="velocity seed (default 12345)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("ZIFSIM_THREADS", "1")),
                   help="OpenMP threads per MPI rank (default $ZIFSIM_THREADS or 1)")
    p.add_argument("--progress", type=float, default=20.0, metavar="SECONDS",
                   help="seconds between progress lines (default 20)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the protocol; exit code 0 when every stage is complete."""
    from zifsim.engine import read_cell, run_protocol
    from zifsim.errors import ConfigError

    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}", where="--threads", fix="use --threads 1")
    spec: dict = {"kind": args.provider}
    if args.forcefield:
        spec["file" if args.provider == "reaxff" else "model"] = args.forcefield
    atoms = read_cell(args.cell)
    meta = run_protocol(atoms, args.protocol, spec, args.out, seed=args.seed, threads=args.threads,
                        progress_interval_s=args.progress, source=os.path.abspath(args.cell))
    return 0 if meta["status"] == "complete" else 1
