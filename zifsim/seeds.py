"""The one seed rule of zifsim runs.

A run has one integer seed ``>= 1`` (:data:`DEFAULT_SEED` unless given). The
workflow gives replica ``k`` (1-based) the seed ``base + k - 1``
(:func:`replica_seed`); inside a run, stage ``i`` draws its velocities with
``seed + 7919 i`` (:func:`stage_seed`). LAMMPS' Park-Miller generator needs a
positive 32-bit integer, so every derived seed must stay below
:data:`MAX_SEED`.
"""
from __future__ import annotations

import operator

from zifsim.errors import ConfigError

#: seed of a run (and of replica 1 of a workflow) when none is given
DEFAULT_SEED = 12345
#: offset between the velocity seeds of consecutive stages of one run
STAGE_STRIDE = 7919
#: largest seed LAMMPS accepts (signed 32-bit)
MAX_SEED = 2**31 - 1


def check_seed(seed, where: str = "seed", source: str | None = None) -> int:
    """``seed`` as an int >= 1; :class:`ConfigError` naming ``where`` otherwise."""
    try:
        value = None if isinstance(seed, bool) else operator.index(seed)
    except TypeError:
        value = None
    if value is None or not 1 <= value <= MAX_SEED:
        raise ConfigError(f"{where} must be an integer from 1 to {MAX_SEED}, got {seed!r}",
                          source=source, where=where,
                          fix=f"use {where} 1 or larger (default {DEFAULT_SEED})")
    return int(value)


def replica_seed(base: int, replica: int) -> int:
    """Seed of replica ``replica`` (1, 2, ...) of a workflow whose rep1 has seed ``base``."""
    return int(base) + int(replica) - 1


def stage_seed(seed: int, index: int) -> int:
    """Velocity seed of stage ``index`` (0-based) of a run with seed ``seed``."""
    return int(seed) + STAGE_STRIDE * int(index)
