"""``zifsim run CELL --protocol NAME|PATH --out RUNDIR``: run a protocol on a cell in LAMMPS.

``zifsim run --spec RUNDIR/runspec.json`` runs one run of the workflow plan
(:class:`zifsim.workflow.RunSpec`: cell, protocol, seed, material and the
provider choice, decided once by :func:`zifsim.workflow.plan`).
"""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from zifsim.seeds import DEFAULT_SEED

log = logging.getLogger("zifsim.run")


def register(subparsers) -> None:
    """Add the ``run`` sub-command."""
    p = subparsers.add_parser(
        "run", help="run an MD protocol (minimise / melt-quench / shear ...) on a cell",
        description="Run a protocol of MD stages on a cell with ReaxFF or an MLIP in LAMMPS. "
                    "An existing RUNDIR is resumed: complete stages are skipped, an interrupted "
                    "stage continues from its last checkpoint. Under MPI launch it with "
                    "`mpiexec -n N zifsim run ...` or `srun zifsim run ...`.")
    p.add_argument("cell", nargs="?", default=None,
                   help="cell file: .extxyz, .cif or LAMMPS .data (zifsim build writes them); "
                        "default with --spec: the spec's cell")
    p.add_argument("--spec", default=None, metavar="RUNSPEC.json",
                   help="a run of the workflow plan (runspec.json written by the md rule): cell, "
                        "protocol, seed, material and provider choice; --out defaults to its folder")
    p.add_argument("--protocol", default=None,
                   help="protocol name in configs/protocols (e.g. tiny, melt_quench_short) or a YAML path")
    p.add_argument("--out", default=None, help="run directory (created or resumed)")
    p.add_argument("--provider", default="reaxff", choices=["reaxff", "mlip", "auto"],
                   help="force model (default reaxff); auto: ReaxFF when its file is found and covers "
                        "the cell's elements and the material's registry entry says reaxff, else the MLIP")
    p.add_argument("--material", default=None,
                   help="registry name whose provider entry --provider auto follows "
                        "(default: the name stored in an extxyz cell written by zifsim build)")
    p.add_argument("--provider-reason", default=None, metavar="TEXT",
                   help="why this provider runs (recorded in metadata.json)")
    p.add_argument("--forcefield", default=None,
                   help="ReaxFF parameter file (path or name in $ZIFSIM_FORCEFIELD_DIR; default ffield_ZnN_2016); "
                        "with --provider mlip also a model name (chgnet, sevennet, nequip) or a deployed NequIP .pth")
    p.add_argument("--model", default=None,
                   help="MLIP model when the MLIP runs (chgnet, sevennet, nequip; default: the material's "
                        "registry entry, else chgnet)")
    p.add_argument("--device", default=None, choices=["cpu", "cuda"],
                   help="torch device of an MLIP (default cpu; cuda where a GPU and a CUDA torch exist)")
    p.add_argument("--seed", type=int, default=None,
                   help=f"velocity seed, an integer >= 1 (default {DEFAULT_SEED})")
    p.add_argument("--threads", type=int, default=int(os.environ.get("ZIFSIM_THREADS", "1")),
                   help="OpenMP threads per MPI rank (default $ZIFSIM_THREADS or 1)")
    p.add_argument("--progress", type=float, default=20.0, metavar="SECONDS",
                   help="seconds between progress lines (default 20)")
    p.set_defaults(func=main)


def _from_spec(args):
    """(cell, protocol, out, seed, choice, material, spec dict) of ``--spec``."""
    from zifsim.errors import ConfigError
    from zifsim.workflow import read_run_spec

    spec = read_run_spec(args.spec)
    given = [o for o, v in (("--protocol", args.protocol), ("--seed", args.seed),
                            ("--forcefield", args.forcefield), ("--model", args.model),
                            ("--material", args.material), ("--provider-reason", args.provider_reason))
             if v is not None]
    if given:
        raise ConfigError(f"{', '.join(given)} cannot be combined with --spec (the spec decides)",
                          where=given[0], fix="drop the option, or run without --spec")
    out = args.out or str(Path(args.spec).parent)
    return (args.cell or spec.cell, spec.protocol_file, out, spec.seed, spec.provider,
            spec.material, spec.to_dict())


def _explicit_choice(args, material):
    """What ``--provider reaxff|mlip`` asks for (checked when the provider is built)."""
    from zifsim.potentials.choice import ProviderChoice

    model, forcefield = args.model, args.forcefield
    if args.provider == "mlip" and forcefield and not model:
        # --forcefield names the MLIP: a model name, or a deployed NequIP/Allegro model file
        model, forcefield = ("nequip", forcefield) if forcefield.endswith(".pth") else (forcefield, None)
    return ProviderChoice(args.provider, args.provider, f"--provider {args.provider} given", material,
                          forcefield=forcefield, model=model if args.provider == "mlip" else None)


def main(args: argparse.Namespace) -> int:
    """Run the protocol; exit code 0 when every stage is complete."""
    from dataclasses import replace

    from zifsim.engine import read_cell, run_protocol
    from zifsim.errors import ConfigError
    from zifsim.potentials.choice import choose_provider
    from zifsim.seeds import check_seed

    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}", where="--threads", fix="use --threads 1")
    spec_record = None
    if args.spec:
        cell, protocol, out, seed, choice, material, spec_record = _from_spec(args)
        atoms = read_cell(cell)
    else:
        if args.cell is None or args.protocol is None or args.out is None:
            raise ConfigError("give CELL, --protocol and --out (or --spec RUNSPEC.json)",
                              where="zifsim run", fix="see `zifsim run --help`")
        cell, protocol, out = args.cell, args.protocol, args.out
        seed = check_seed(DEFAULT_SEED if args.seed is None else args.seed, where="--seed")
        atoms = read_cell(cell)
        material = args.material or atoms.info.get("name")
        if args.provider == "auto":
            choice = choose_provider("auto", material=material,
                                     elements=set(atoms.get_chemical_symbols()),
                                     forcefield=args.forcefield, key="--forcefield", model=args.model)
        else:
            choice = _explicit_choice(args, material)
        if args.provider_reason:
            choice = replace(choice, reason=args.provider_reason)
    log.info("provider: %s (%s)", choice.label, choice.reason)
    spec = {k: v for k, v in choice.spec().items() if v is not None}
    if spec["kind"] == "mlip":
        if choice.model == "nequip" and choice.forcefield:
            spec["file"] = choice.forcefield       # the deployed model file
        spec["threads"] = args.threads  # torch intra-op threads = the job's cores
        if args.device:
            spec["device"] = args.device
    meta = run_protocol(atoms, protocol, spec, out, seed=seed, threads=args.threads,
                        progress_interval_s=args.progress, source=os.path.abspath(cell),
                        provider_choice=choice.metadata(), material=material, run_spec=spec_record)
    return 0 if meta["status"] == "complete" else 1
