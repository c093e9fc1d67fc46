"""Structures: validated, simulation-ready ZIF cells from CIFs, the CoRE MOF database and nets.

Public API (docs/architecture.md section 1)::

    from zifsim.structures import build_material, read_structure
    cell = build_material("ZIF-62", min_width=20.0)   # Cell: atoms + provenance + report
    cell.write("cells/ZIF-62")                          # cell.data/.extxyz/.cif + validation.json
"""
from zifsim.structures.build import build_from_file, build_material, prepare_structure
from zifsim.structures.cell import CELL_FILES, Cell
from zifsim.structures.io import read_structure, write_lammps_data
from zifsim.structures.supercell import make_supercell, repeats_for_width
from zifsim.geometry import density_gcm3
from zifsim.structures.validate import format_report, validate_structure

__all__ = ["Cell", "CELL_FILES", "build_material", "build_from_file", "prepare_structure",
           "read_structure", "write_lammps_data", "make_supercell", "repeats_for_width",
           "validate_structure", "format_report", "density_gcm3"]
