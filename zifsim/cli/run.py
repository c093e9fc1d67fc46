"""``zifsim run CELL --protocol NAME|PATH --out RUNDIR``: run a protocol on a cell in LAMMPS."""
from __future__ import annotations

import argparse
import logging
import os

log = logging.getLogger("zifsim.run")


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
    p.add_argument("--provider", default="reaxff", choices=["reaxff", "mlip", "auto"],
                   help="force model (default reaxff); auto: ReaxFF when its file is found and covers "
                        "the cell's elements and the material's registry entry says reaxff, else the MLIP")
    p.add_argument("--material", default=None,
                   help="registry name whose provider entry --provider auto follows "
                        "(default: the name stored in an extxyz cell written by zifsim build)")
    p.add_argument("--provider-reason", default=None, metavar="TEXT",
                   help="why this provider runs (recorded in metadata.json; the workflow sets it)")
    p.add_argument("--forcefield", default=None,
                   help="ReaxFF parameter file (path or name in $ZIFSIM_FORCEFIELD_DIR; default ffield_ZnN_2016) "
                        "or MLIP model name (chgnet, sevennet, nequip) or a deployed NequIP .pth")
    p.add_argument("--device", default=None, choices=["cpu", "cuda"],
                   help="torch device of an MLIP (default cpu; cuda where a GPU and a CUDA torch exist)")
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
    atoms = read_cell(args.cell)
    if args.provider == "auto":
        from zifsim.potentials.choice import choose_provider
        material = args.material or atoms.info.get("name")
        choice = choose_provider("auto", material=material,
                                 elements=set(atoms.get_chemical_symbols()),
                                 forcefield=args.forcefield, key="--forcefield")
        log.info("provider: %s (%s)", choice.label, choice.reason)
        spec, record = choice.spec(), choice.metadata()
        if args.provider_reason:
            record["reason"] = args.provider_reason
    else:
        spec = {"kind": args.provider}
        if args.forcefield and args.provider == "mlip" and args.forcefield.endswith(".pth"):
            spec.update(model="nequip", file=args.forcefield)  # a deployed NequIP/Allegro model
        elif args.forcefield:
            spec["file" if args.provider == "reaxff" else "model"] = args.forcefield
        record = ({"used": args.provider, "reason": args.provider_reason} if args.provider_reason
                  else {"requested": args.provider, "used": args.provider,
                        "reason": f"--provider {args.provider} given"})
    if spec["kind"] == "mlip":
        spec["threads"] = args.threads  # torch intra-op threads = the job's cores
        if args.device:
            spec["device"] = args.device
    meta = run_protocol(atoms, args.protocol, spec, args.out, seed=args.seed, threads=args.threads,
                        progress_interval_s=args.progress, source=os.path.abspath(args.cell),
                        provider_choice=record)
    return 0 if meta["status"] == "complete" else 1
