"""``Cell``: a validated, simulation-ready ZIF cell with its provenance.

``Cell.write(directory)`` produces the four files of docs/architecture.md
section 1 (``cell.data``, ``cell.extxyz``, ``cell.cif``, ``validation.json``)
atomically: every text is generated first, then each file is renamed into
place, so a failure leaves no partial output.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from zifsim.fileio import atomic_open
from zifsim.structures.io import cif_text, check_type_order, extxyz_text, lammps_data_text
from zifsim.geometry import density_gcm3
from zifsim.structures.validate import validate_structure

CELL_FILES = ("cell.data", "cell.extxyz", "cell.cif", "validation.json")


@dataclass
class Cell:
    """A ZIF cell: ``atoms`` (ase.Atoms, Å), ``name``, ``provenance`` (dict), ``report`` (dict).

    ``elements`` is the LAMMPS type order (default: sorted symbols).
    """

    atoms: Atoms
    name: str
    provenance: dict = field(default_factory=dict)
    report: dict | None = None
    elements: list[str] | None = None

    @property
    def density_gcm3(self) -> float:
        """Mass density in g/cm³."""
        return density_gcm3(self.atoms)

    @property
    def passed(self) -> bool:
        """True when the validation report passed."""
        return bool(self.report and self.report["passed"])

    def validate(self, **kwargs) -> dict:
        """(Re)compute the validation report (see :func:`validate_structure`) and store it."""
        self.report = validate_structure(self.atoms, name=self.name, **kwargs)
        return self.report

    @classmethod
    def read(cls, directory) -> "Cell":
        """Load a cell folder written by :meth:`write` (atoms from cell.extxyz, report and
        provenance from validation.json)."""
        from zifsim.errors import InputError
        from zifsim.structures.io import read_structure
        directory = Path(directory)
        meta_path = directory / "validation.json"
        if not meta_path.is_file():
            raise InputError("not a zifsim cell folder (validation.json missing)", source=str(directory),
                             fix="give a folder written by `zifsim build`")
        meta = json.loads(meta_path.read_text())
        atoms = read_structure(directory / "cell.extxyz")
        provenance = meta.pop("provenance", {})
        elements = meta.pop("type_elements", None)
        return cls(atoms, meta.get("name") or directory.name, provenance, meta, elements)

    def write(self, directory, elements: list[str] | None = None) -> Path:
        """Write cell.data, cell.extxyz, cell.cif and validation.json into ``directory``."""
        directory = Path(directory)
        if self.report is None:
            self.validate()
        elements = check_type_order(self.atoms, elements or self.elements, source=self.name)
        source = self.provenance.get("source", "")
        texts = {
            "cell.data": lammps_data_text(self.atoms, elements,
                                          title=f"{self.name} ({source}); zifsim, atom_style charge, "
                                                f"types {' '.join(elements)}"),
            "cell.extxyz": extxyz_text(self.atoms, {"name": self.name, "source": source}),
            "cell.cif": cif_text(self.atoms, self.name),
            "validation.json": json.dumps({**self.report, "type_elements": elements,
                                           "provenance": self.provenance},
                                          indent=2, sort_keys=False) + "\n",
        }
        for fname, text in texts.items():
            with atomic_open(directory / fname) as fh:
                fh.write(text)
        return directory
