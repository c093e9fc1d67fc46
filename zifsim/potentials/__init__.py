"""Force providers: ReaxFF parameter files and (optional) machine-learned potentials.

All providers implement :class:`zifsim.potentials.base.ForceProvider`; the
engine never needs to know which one it drives. Use :func:`get_provider`.
"""
from zifsim.potentials.base import ForceProvider  # noqa: F401
from zifsim.potentials.factory import get_provider  # noqa: F401
