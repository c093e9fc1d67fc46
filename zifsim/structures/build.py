"""From a material name or a structure file to a validated :class:`Cell`.

Pipeline for a crystal structure: read -> resolve disorder -> remove guests
-> complete / normalise linker H -> LAMMPS orientation -> validate. Registry
materials add substitution (linker, metal) on a parent cell and topological
nets (:mod:`zifsim.structures.nets`). A cell that fails validation is
refused with the failed checks in the message: nothing is written.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ase import Atoms

from zifsim import __version__
from zifsim.errors import InputError, StructureError
from zifsim.structures.cell import Cell
from zifsim.structures.clean import clean_structure
from zifsim.fileio import sha256_file
from zifsim.structures.io import (CORE_MOF_DATASET, core_mof_cif, read_structure,
                                  resolve_core_mof_entry)
from zifsim.structures.linkers import complete_hydrogens
from zifsim.structures.supercell import make_supercell, repeats_for_width, standard_orientation
from zifsim.structures.validate import density_gcm3, format_report, validate_structure

log = logging.getLogger(__name__)
#: inputs above this many atoms get progress lines (each step takes seconds to minutes)
LARGE_CELL_ATOMS = 5000


def prepare_structure(atoms: Atoms, source: str | None = None, disorder: str = "refuse"
                      ) -> tuple[Atoms, dict]:
    """Clean a crystal structure into a simulation-ready framework; returns (atoms, steps).

    ``steps`` records what was done: disorder resolution, guests removed,
    H added / C-H bonds normalised.
    """
    framework, steps = clean_structure(atoms, source=source, disorder=disorder)
    framework, hstats = complete_hydrogens(framework, source=source)
    steps["hydrogens"] = hstats
    return standard_orientation(framework), steps


def build_from_file(path: str | Path, name: str | None = None, supercell=None,
                    min_width: float | None = None, elements: list[str] | None = None,
                    disorder: str = "refuse", require_valid: bool = True) -> Cell:
    """Build a validated cell from a CIF / extxyz / LAMMPS data file.

    Parameters
    ----------
    path : structure file.
    name : cell name (default: file stem).
    supercell : (na, nb, nc) repeats, or ``None``.
    min_width : minimum perpendicular width (Å) instead of ``supercell``.
    elements : LAMMPS type order (default: sorted symbols).
    disorder : ``"refuse"`` or ``"major"`` (see :mod:`zifsim.structures.clean`).
    require_valid : raise :class:`StructureError` if validation fails.
    """
    path = Path(path)
    raw = read_structure(path)
    if len(raw) > LARGE_CELL_ATOMS:   # progress for big inputs (139 264 atoms: minutes)
        log.info("%s: %d atoms read; cleaning (disorder, guests, hydrogens) ...", path, len(raw))
    atoms, steps = prepare_structure(raw, source=str(path), disorder=disorder)
    if len(raw) > LARGE_CELL_ATOMS:
        log.info("%s: framework of %d atoms; validating ...", path, len(atoms))
    provenance = {"source": f"file:{path.name}", "sha256": sha256_file(path),
                  "reference_density_gcm3": round(density_gcm3(atoms), 5), "steps": steps}
    cell = Cell(atoms, name or path.stem, provenance, elements=elements)
    return _finish(cell, supercell, min_width, require_valid, str(path))


def build_material(name: str, supercell=None, min_width: float | None = None,
                   elements: list[str] | None = None, registry=None,
                   require_valid: bool = True, relaxer=None) -> Cell:
    """Build registry material ``name`` (e.g. ``"ZIF-4"``, ``"ZIF-62"``) as a validated :class:`Cell`.

    A name that is an existing file path is built with :func:`build_from_file`.
    ``supercell`` = (na, nb, nc) or ``min_width`` (Å) enlarge the cell;
    ``elements`` sets the LAMMPS type order. ``relaxer`` is the force model (or a
    zero-argument factory of it, called only when needed) for materials built from a
    net or by "place then relax", e.g. ``zifsim.potentials.mlip.MLIPProvider``; the
    relaxed cells are cached (:func:`zifsim.structures.nets.cache_dir`).
    """
    if registry is None and Path(str(name)).suffix.lower() in (".cif", ".extxyz", ".xyz", ".data") \
            and Path(str(name)).exists():
        return build_from_file(name, supercell=supercell, min_width=min_width, elements=elements,
                               require_valid=require_valid)
    from zifsim.registry import load_registry
    registry = registry or load_registry()
    material = registry.get(name)
    cell = _build_unit(material, registry, relaxer)
    cell.elements = elements
    return _finish(cell, supercell, min_width, require_valid, f"material {material.name}")


def _build_unit(material, registry, relaxer=None) -> Cell:
    """The registry material's base cell (no supercell), validated against its linkers."""
    src = material.source
    if src is None:
        raise InputError(f"material {material.name} has no structure in the registry (facts only)",
                         source=str(registry.path), where=f"materials.{material.name}.source",
                         fix="build another material or give a CIF path")
    if "core_mof" in src:
        entry = resolve_core_mof_entry(str(src["core_mof"]))
        path = core_mof_cif(entry)
        raw = read_structure(path)
        atoms, steps = prepare_structure(raw, source=f"CoRE MOF {entry}")
        # the validation compares with the density of the CoRE cell as published (3 %)
        provenance = {"source": f"core_mof:{entry}", "database": f"CoRE MOF {CORE_MOF_DATASET}",
                      "sha256": sha256_file(path), "reference_density_gcm3": round(density_gcm3(raw), 5),
                      "steps": steps}
    elif "cif" in src:
        path = Path(src["cif"])
        if not path.is_absolute():
            from zifsim.settings import REPO_ROOT
            path = REPO_ROOT / path
        atoms, steps = prepare_structure(read_structure(path), source=str(path),
                                         disorder=src.get("disorder", "refuse"))
        provenance = {"source": f"cif:{src['cif']}", "sha256": sha256_file(path),
                      "reference_density_gcm3": round(density_gcm3(atoms), 5), "steps": steps}
    elif "net" in src:
        atoms, provenance = _build_net(material, src, relaxer)
    else:  # parent (+ substitution)
        parent = _build_unit(registry.get(src["parent"]), registry, relaxer)
        atoms = parent.atoms
        provenance = {"source": f"parent:{parent.name}", "parent": parent.provenance}
        if src.get("supercell") is not None:
            atoms = parent_supercell(atoms, src["supercell"], source=material.name)
            provenance["parent_supercell"] = src["supercell"]
        sub = src.get("substitute") or {}
        if "linker" in sub:
            from zifsim.structures.substitute import substitute_linkers
            spec = sub["linker"]
            atoms, info = substitute_linkers(atoms, spec["from"], spec["to"], float(spec["x"]),
                                             order=spec.get("order", "ordered"),
                                             seed=int(spec.get("seed", 0)), source=material.name,
                                             relax=bool(spec.get("relax", False)),
                                             provider=relaxer)
            provenance["linker_substitution"] = info
        if "metal" in sub:
            from zifsim.structures.substitute import substitute_metal
            atoms, info = substitute_metal(atoms, sub["metal"]["from"], sub["metal"]["to"],
                                           source=material.name)
            provenance["metal_substitution"] = info
        atoms = standard_orientation(atoms)
    provenance["zifsim_version"] = __version__
    provenance["material"] = {"formula": material.formula, "topology": material.topology,
                              "metal": material.metal, "linkers": material.linkers}
    cell = Cell(atoms, material.name, provenance)
    cell.report = validate_structure(atoms, name=material.name)
    _check_linkers(cell, material)
    return cell


def parent_supercell(atoms: Atoms, spec, source: str | None = None) -> Atoms:
    """Supercell of a parent cell: ``spec`` = 3 repeats ``[na, nb, nc]`` or a 3x3 integer
    matrix (rows: new lattice vectors in units of the parent's, as built by zifsim)."""
    import numpy as np
    m = np.asarray(spec)
    if m.shape == (3,) and np.issubdtype(m.dtype, np.integer) and (m >= 1).all():
        return atoms.repeat(tuple(int(v) for v in m))
    if m.shape == (3, 3) and np.issubdtype(m.dtype, np.integer) and round(abs(np.linalg.det(m))) >= 1:
        from ase.build import make_supercell
        return make_supercell(atoms, m, wrap=True)
    raise InputError(f"supercell {spec!r} is neither 3 positive repeats nor a 3x3 integer matrix "
                     "with non-zero determinant", source=source, where="source.supercell",
                     fix="e.g. supercell: [5, 1, 1] or [[1, 1, 1], [1, 0, -1], [0, 2, -1]]")


def _build_net(material, src, relaxer=None) -> tuple[Atoms, dict]:
    try:
        from zifsim.structures import nets
    except ImportError:
        raise StructureError(f"cannot build {material.name}: topological nets "
                             "(zifsim.structures.nets) are not available in this installation",
                             where=f"materials.{material.name}.source.net",
                             fix="update zifsim (nets.py builds dia-c and zni cells)") from None
    builder = getattr(nets, "build_net_cell", None)
    if builder is None:
        raise StructureError(f"cannot build {material.name}: zifsim.structures.nets has no build_net_cell()",
                             where=f"materials.{material.name}.source.net",
                             fix="update zifsim.structures.nets")
    kwargs = {k: v for k, v in src.items() if k != "net"}
    atoms = builder(src["net"], **kwargs, provider=relaxer)
    net_info = {k: atoms.info[k] for k in ("source", "relaxed") if k in atoms.info}
    atoms, steps = prepare_structure(atoms, source=f"net {src['net']}")
    return atoms, {"source": f"net:{src['net']}", "net_args": kwargs, "net_info": net_info,
                   "reference_density_gcm3": round(density_gcm3(atoms), 5), "steps": steps}


def _check_linkers(cell: Cell, material) -> None:
    """The built cell must carry the registry's linkers per metal."""
    got = cell.report["linkers_per_metal"]
    want = material.linkers
    if set(got) != set(want) or any(abs(got[k] - want[k]) > 1e-3 for k in want):
        raise StructureError(f"{material.name}: the cell has linkers per metal {got}, the registry "
                             f"says {want}", where=f"materials.{material.name}.linkers",
                             fix="correct the registry entry or its source")


def _finish(cell: Cell, supercell, min_width, require_valid: bool, what: str) -> Cell:
    if supercell is not None or min_width is not None:
        repeats = tuple(supercell) if supercell is not None else repeats_for_width(cell.atoms, min_width)
        cell.atoms = standard_orientation(make_supercell(cell.atoms, repeats))
        cell.provenance["supercell"] = {"repeats": list(repeats), "min_width_A": min_width,
                                        "n_atoms": len(cell.atoms)}
    ref = cell.provenance.get("reference_density_gcm3")
    cell.report = validate_structure(cell.atoms, name=cell.name, reference_density_gcm3=ref)
    if require_valid and not cell.report["passed"]:
        raise StructureError(f"{what} fails validation:\n{format_report(cell.report)}",
                             source=cell.provenance.get("source"),
                             fix="inspect the structure; a crystal needs every metal 4-coordinated "
                                 "by N at 1.9-2.4 Å (Zn/Co tetrahedral) and complete linkers")
    return cell
