"""Common base of the streaming analyses (MDAnalysis AnalysisBase / freud style).

Subclasses implement ``_prepare(first_frame)``, ``_single_frame(frame)`` and
``_conclude()``. ``run(frames)`` streams an iterable of :class:`Frame` once;
``compute(system)`` analyses one structure (ase.Atoms, Frame or path).
Several analyses can share one pass over a trajectory with :func:`run_all`.
"""
from __future__ import annotations

from typing import Iterable

from zifsim.analysis.trajectory import Frame, frame_from_atoms, read_structure

__all__ = ["FrameAnalysis", "as_frame", "run_all"]


def as_frame(system) -> Frame:
    """A :class:`Frame` from a Frame, an ase.Atoms or a structure file path."""
    if isinstance(system, Frame):
        return system
    if hasattr(system, "get_chemical_symbols"):
        return frame_from_atoms(system)
    return frame_from_atoms(read_structure(system))


class FrameAnalysis:
    """Base class: prepare on the first frame, accumulate per frame, conclude."""

    def __init__(self):
        self._prepared = False
        self.n_frames = 0

    # -- hooks ---------------------------------------------------------------
    def _prepare(self, frame: Frame) -> None:
        """Set up accumulators from the first frame."""

    def _single_frame(self, frame: Frame) -> None:
        """Analyse one frame."""
        raise NotImplementedError

    def _conclude(self) -> None:
        """Turn accumulators into results."""

    # -- drivers -------------------------------------------------------------
    def feed(self, frame: Frame) -> None:
        """Add one frame (prepares on the first one)."""
        if not self._prepared:
            self._prepare(frame)
            self._prepared = True
        self._single_frame(frame)
        self.n_frames += 1

    def finish(self):
        """Conclude after the last frame; returns self."""
        self._conclude()
        return self

    def run(self, frames: Iterable[Frame]):
        """Analyse every frame of an iterable (streamed once); returns self."""
        for frame in frames:
            self.feed(frame)
        return self.finish()

    def compute(self, system):
        """Analyse a single structure (ase.Atoms, Frame or file path); returns self."""
        self.__init_state__()
        return self.run([as_frame(system)])

    def __init_state__(self):
        """Reset accumulators (called by :meth:`compute`)."""
        self._prepared = False
        self.n_frames = 0


def run_all(analyses: list[FrameAnalysis], frames: Iterable[Frame], progress=None):
    """Feed every frame to each analysis in one pass, then conclude all.

    ``progress`` is an optional tqdm-like object with ``update(n)``.
    """
    for frame in frames:
        for analysis in analyses:
            analysis.feed(frame)
        if progress is not None:
            progress.update(1)
    for analysis in analyses:
        analysis.finish()
    return analyses
