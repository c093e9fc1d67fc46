"""Protocols: ordered MD stages in physical units, loaded from YAML (``configs/protocols``).

>>> from zifsim.protocols import load_protocol
>>> protocol = load_protocol("tiny")            # or a path to a YAML file
>>> [s.type for s in protocol.stages]           # doctest: +SKIP
"""
from zifsim.protocols.stages import (STAGE_TYPES, Compress, Deform, Equilibrate, Hold,  # noqa: F401
                                     Minimise, Press, Quench, Ramp, Reheat, Segment, Shear, Stage,
                                     Staircase)
from zifsim.protocols.loader import Protocol, find_protocol, load_protocol, stage_fingerprint  # noqa: F401
