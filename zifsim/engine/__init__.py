"""The MD engine: the only part of zifsim that talks to LAMMPS.

:func:`run_protocol` runs a :class:`~zifsim.protocols.Protocol` on an
``ase.Atoms`` cell with a :class:`~zifsim.potentials.base.ForceProvider`
and writes the run directory described in docs/architecture.md section 2.
"""
from zifsim.engine.run import lammps_data_text, read_cell, run_protocol  # noqa: F401
from zifsim.engine.stage import THERMO_COLUMNS  # noqa: F401
