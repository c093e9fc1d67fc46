"""The analysis base class: one results container, reset by every run()."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from zifsim.analysis.base import FrameAnalysis, Results, as_frame, run_all


class CountAtoms(FrameAnalysis):
    """Toy analysis: total atoms seen over the frames."""

    def _prepare(self, frame):
        self.seen = 0

    def _single_frame(self, frame):
        self.seen += frame.n_atoms

    def _conclude(self):
        self.total = self.seen
        self.per_frame = self.seen / self.n_frames


def frames(n, natoms=3):
    atoms = Atoms("H" * natoms, positions=np.eye(3)[:natoms] * 1.5, cell=[6, 6, 6], pbc=True)
    return [as_frame(atoms)] * n


def test_results_container_and_no_accumulation():
    a = CountAtoms()
    with pytest.raises(AttributeError, match="run"):
        a.total
    a.run(frames(4))
    assert isinstance(a.results, Results) and a.results.total == a.total == 12
    assert set(a.results) == {"total", "per_frame"} and "seen" not in a.results
    a.run(frames(2))                      # a second run starts afresh
    assert (a.total, a.n_frames, a.per_frame) == (6, 2, 3.0)
    a.compute(frames(1, natoms=2)[0])
    assert a.results == {"total": 2, "per_frame": 2.0}


def test_run_all_resets_each_analysis():
    a, b = CountAtoms(), CountAtoms()
    run_all([a, b], frames(3))
    run_all([a, b], frames(1))
    assert a.total == b.total == 3 and a.n_frames == 1
