"""Streaming analyses of run directories and single structures (docs/architecture.md §3).

Usable from notebooks without Snakemake::

    from zifsim.analysis import iter_run, Coordination, PartialRDF, Lindemann, run_all
    coord, rdf, lind = Coordination(), PartialRDF(r_max=10), Lindemann(window=20)
    run_all([coord, rdf, lind], iter_run("results/runs/ZIF-4/melt_quench/rep1", every=2))
    coord.table        # per frame: stage, time_ps, temp_K, frac_CN2..5, mean_CN, tau4 ...
    rdf.partial("Zn", "N"), rdf.r
    lind.table         # per window: temp_K, lindemann_metal, pair_index

    Coordination().compute("glass.cif")   # one structure (path, ase.Atoms or Frame)
"""
from zifsim.analysis.base import FrameAnalysis, as_frame, run_all
from zifsim.analysis.coordination import Coordination, tau4_from_vectors
from zifsim.analysis.lindemann import Lindemann, melting_estimate
from zifsim.analysis.pores import GridPores, ZeoPores, probe_radius
from zifsim.analysis.rdf import PartialRDF
from zifsim.analysis.thermo import ThermoAnalysis, two_line_fit
from zifsim.analysis.trajectory import (Frame, frame_from_atoms, iter_run, iter_structure_frames,
                                        read_dump, read_structure)
from zifsim.analysis.xray import XrayPDF, form_factor

__all__ = ["FrameAnalysis", "as_frame", "run_all", "Coordination", "tau4_from_vectors", "Lindemann",
           "melting_estimate", "GridPores", "ZeoPores", "probe_radius", "PartialRDF", "ThermoAnalysis",
           "two_line_fit", "Frame", "frame_from_atoms", "iter_run", "iter_structure_frames", "read_dump",
           "read_structure", "XrayPDF", "form_factor"]
