"""Common base of the streaming analyses (MDAnalysis AnalysisBase / freud style).

Subclasses implement ``_prepare(first_frame)``, ``_single_frame(frame)`` and
``_conclude()``. ``run(frames)`` streams an iterable of :class:`Frame` once;
``compute(system)`` analyses one structure (ase.Atoms, Frame or path).
Several analyses can share one pass over a trajectory with :func:`run_all`.

Results live in one container, ``analysis.results`` (a :class:`Results`, as
MDAnalysis' ``AnalysisBase.results``): every public attribute a subclass sets in
``_conclude`` goes there (``analysis.table`` reads ``analysis.results.table``).
Every ``run()`` / ``compute()`` / :func:`run_all` starts from an empty container
and re-prepares on its first frame, so a second run does not accumulate.
"""
from __future__ import annotations

from typing import Iterable

from zifsim.analysis.trajectory import Frame, frame_from_atoms, read_structure

__all__ = ["FrameAnalysis", "Results", "as_frame", "run_all"]


class Results(dict):
    """The results of one analysis run: a dict whose keys are also attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no result {name!r} (results: {', '.join(self) or 'none yet'})") \
                from None

    def __setattr__(self, name, value):
        self[name] = value

    def __dir__(self):
        return list(self) + list(super().__dir__())


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
        self._concluding = False
        self.__init_state__()

    # -- the results container -------------------------------------------------
    def __setattr__(self, name, value):
        # what _conclude sets is a result (unless it is state set before, e.g. in _prepare)
        if (not name.startswith("_") and self.__dict__.get("_concluding")
                and name not in self.__dict__):
            self.__dict__["results"][name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        results = self.__dict__.get("results")
        if results is not None and name in results:
            return results[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}"
                             + ("" if results else " (run() it first)"))

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
        """Conclude after the last frame (results into :attr:`results`); returns self."""
        self._concluding = True
        try:
            self._conclude()
        finally:
            self._concluding = False
        return self

    def run(self, frames: Iterable[Frame]):
        """Analyse every frame of an iterable (streamed once), from a fresh state; returns self."""
        self.__init_state__()
        for frame in frames:
            self.feed(frame)
        return self.finish()

    def compute(self, system):
        """Analyse a single structure (ase.Atoms, Frame or file path); returns self."""
        self.__init_state__()
        return self.run([as_frame(system)])

    def __init_state__(self):
        """Start afresh: empty :attr:`results`, re-prepare on the next frame (called by
        :meth:`run`, :meth:`compute` and :func:`run_all`)."""
        object.__setattr__(self, "results", Results())
        self._prepared = False
        self.n_frames = 0


def run_all(analyses: list[FrameAnalysis], frames: Iterable[Frame], progress=None):
    """Feed every frame to each analysis in one pass, then conclude all.

    ``progress`` is an optional tqdm-like object with ``update(n)``.
    """
    for analysis in analyses:
        analysis.__init_state__()
    for frame in frames:
        for analysis in analyses:
            analysis.feed(frame)
        if progress is not None:
            progress.update(1)
    for analysis in analyses:
        analysis.finish()
    return analyses
