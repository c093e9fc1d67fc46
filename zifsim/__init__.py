"""zifsim: melting, melt-quenching and milling of zeolitic imidazolate frameworks.

Data flows one way (see docs/architecture.md):
structures -> potentials -> protocols -> engine -> analysis -> compare.
"""
__version__ = "0.1.0"

from zifsim.errors import ZifsimError, InputError  # noqa: F401
