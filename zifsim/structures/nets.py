"""ZIF cells built from a topological net: vertices -> metals, edges -> imidazolates.

For frameworks with no usable public CIF (Cd(im)2 on the two-fold
interpenetrated diamond net ``dia-c``; ZIF-zni rebuilt from its net) the cell
is decorated from the net's maximum-symmetry embedding and then relaxed
(positions and cell) with a universal MLIP (:mod:`zifsim.potentials.mlip`).

Net geometry is written from the published RCSR coordinates (O'Keeffe,
Peskov, Ramsden, Yaghi, Acc. Chem. Res. 2008, 41, 1782; http://rcsr.net;
the same numbers ship in the ``pormake`` topology database), in RCSR units
(edge length 1):

=======  =============  ===========================  ============================
net      space group    cell (edge = 1)              vertex (fractional)
=======  =============  ===========================  ============================
dia      Fd-3m (227:2)  a = 2.3094                   8a (1/8, 1/8, 1/8)
zni      I4_1/acd (142:2) a = 4.21148, c = 1.91550   32g (0.06898, 0.09767, 0.39841)
=======  =============  ===========================  ============================

``dia-c`` is ``dia`` plus a second copy translated by (1/2, 0, 0) of the
cubic cell (the Cu2O / cuprite arrangement of the two nets); ``offset`` moves
the second net further so the inter-network packing can be explored.

Decoration: each linker is placed rigidly with both N lone pairs pointing at
the two metals of its edge (M-N at the metal's target bond length; the net is
scaled so that the edge equals the ideal M...M distance across one im), and
its rotation about the M...M axis is chosen greedily to maximise the
shortest contact to the atoms already placed.

Public API: :func:`build_net_cell`, :func:`net_vertices`, :func:`net_report`.
All lengths in Å, densities in g/cm³ or metals per nm³.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from zifsim.settings import STRUCTURES_DIR
from zifsim.errors import ConfigError, StructureError
from zifsim.geometry import density_gcm3, tau4 as tau4_of
from zifsim.structures.chemistry import METALS, metals_in, mn_bond, mn_cutoff

#: Bump when the construction or relaxation recipe changes (invalidates the cache).
RECIPE_VERSION = 3

# M-N bond lengths (the decoration targets) and the M-N bond cutoff of net_report come
# from the one metals table, zifsim.structures.chemistry (mn_bond, mn_cutoff).


@dataclass(frozen=True)
class NetSpec:
    """A periodic net in RCSR units: space group, conventional cell, vertex orbit(s)."""
    name: str
    spacegroup: int
    setting: int
    cellpar: tuple[float, float, float, float, float, float]
    vertices: tuple[tuple[float, float, float], ...]
    centring: str                      # "F", "I" or "P": picks the primitive cell
    source: str


NETS: dict[str, NetSpec] = {
    "dia": NetSpec("dia", 227, 2, (2.3094, 2.3094, 2.3094, 90.0, 90.0, 90.0),
                   ((0.125, 0.125, 0.125),), "F", "RCSR dia (Fd-3m, origin choice 2)"),
    "zni": NetSpec("zni", 142, 2, (4.21148, 4.21148, 1.91550, 90.0, 90.0, 90.0),
                   ((0.06898, 0.09767, 0.39841),), "I", "RCSR zni (I4_1/acd, origin choice 2)"),
}
#: Default extra shift of the second dia-c net (fractions of the conventional dia cell,
#: a ~ 14.8 Å for Cd): 0.06 along [111] (1.5 Å). Chosen by energy, not by the
#: experiment: relaxed with CHGNet 0.3.0 + D3(BJ) (fmax 0.02 eV/Å, 4-Cd primitive
#: cell) the energies per Cd were -110.962 eV for (0.06, 0.06, 0.06), -110.947 eV
#: for (0, 0, 0.14) (not converged in 300 steps) and -110.892 eV for the symmetric
#: cuprite-like (0, 0, 0) at fmax 0.1; see docs/mlip.md.
DIA_C_DEFAULT_OFFSET = (0.06, 0.06, 0.06)
#: Nets accepted by :func:`build_net_cell` -> (base net, number of interpenetrating copies).
NET_ALIASES = {"dia": ("dia", 1), "dia-c": ("dia", 2), "zni": ("zni", 1)}

_PRIMITIVE = {
    "F": np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]),
    "I": np.array([[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, -0.5]]),
    "P": np.eye(3),
}


# ----------------------------------------------------------------------------- linker
def imidazolate_template() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Planar imidazolate (C3H3N2-) in its own frame, with its two metal directions.

    Returns ``(symbols, positions Å, lone_pairs)``: ring N1 C2 N3 C4 C5 and
    H2 H4 H5 in the xy plane, ring centre at the origin, C2 on +y; the N1
    and N3 lone-pair unit vectors (radial, 144° apart). Ring bonds 1.36 Å
    (regular pentagon), C-H 1.08 Å: a start geometry, relaxed afterwards.
    """
    ring_r = 1.36 / (2.0 * np.sin(np.pi / 5.0))
    ang = np.deg2rad([162.0, 90.0, 18.0, -54.0, -126.0])  # N1 C2 N3 C4 C5
    radial = np.stack([np.cos(ang), np.sin(ang), np.zeros(5)], axis=1)
    ring = ring_r * radial
    hyd = ring[[1, 3, 4]] + 1.08 * radial[[1, 3, 4]]
    symbols = ["N", "C", "N", "C", "C", "H", "H", "H"]
    return symbols, np.vstack([ring, hyd]), radial[[0, 2]]


def linker_span(metal: str) -> float:
    """Ideal M...M distance (Å) across one imidazolate for ``metal`` (lone pairs on axis)."""
    _, pos, lp = imidazolate_template()
    r = _mn_bond(metal)
    return float(np.linalg.norm((pos[2] + r * lp[1]) - (pos[0] + r * lp[0])))


def _mn_bond(metal: str) -> float:
    if metal not in METALS:
        raise ConfigError(f"no tetrahedral M-N bond length known for metal {metal!r}",
                          where="metal", fix=f"use one of: {', '.join(sorted(METALS))}")
    return mn_bond(metal)


# ----------------------------------------------------------------------------- nets
def _resolve_net(net: str) -> tuple[NetSpec, int]:
    key = str(net).strip().lower()
    if key not in NET_ALIASES:
        raise ConfigError(f"unknown net {net!r}", where="source.net",
                          fix=f"use one of: {', '.join(sorted(NET_ALIASES))}")
    base, copies = NET_ALIASES[key]
    return NETS[base], copies


def net_vertices(net: str, offset=(0.0, 0.0, 0.0), primitive: bool = True,
                 edge: float = 1.0, regularise: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices and edges of a net scaled so that every edge is ``edge`` Å long.

    Parameters
    ----------
    net : ``"dia"``, ``"dia-c"`` (2-fold interpenetrated dia) or ``"zni"``.
    offset : extra shift (fractions of the conventional cell) of the second
        copy of an interpenetrated net.
    primitive : reduce to the primitive cell (F/I centring) when True.
    edge : edge length, Å.
    regularise : if a vertex angle is below 80° (zni's RCSR embedding has 68°),
        re-embed with :func:`regularise_embedding` so imidazolates fit.

    Returns ``(cell, frac, edges)``: lattice rows (Å), vertex fractional
    coordinates, and an ``(n_edges, 5)`` integer array ``i, j, sx, sy, sz``
    (vertex ``j`` in the image shifted by ``s`` is bonded to vertex ``i``).
    Raises :class:`StructureError` if a vertex is not 4-connected.
    """
    cell, frac, edges = _net_vertices_cached(str(net).strip().lower(),
                                             tuple(float(x) for x in offset), bool(primitive),
                                             float(edge), bool(regularise))
    return cell.copy(), frac.copy(), edges.copy()


@lru_cache(maxsize=32)
def _net_vertices_cached(net, offset, primitive, edge, regularise):
    from ase.spacegroup import crystal

    spec, copies = _resolve_net(net)
    if copies not in (1, 2):
        raise ConfigError(f"{copies}-fold interpenetration is not supported", where="source.net")
    conv = crystal(["X"] * len(spec.vertices), basis=list(spec.vertices),
                   spacegroup=spec.spacegroup, setting=spec.setting,
                   cellpar=list(spec.cellpar), primitive_cell=False, onduplicates="keep")
    frac = conv.get_scaled_positions(wrap=True)
    conv_cell = np.asarray(conv.cell) * edge  # RCSR edges have length 1
    cell = conv_cell
    if primitive:
        pcell = _PRIMITIVE[spec.centring] @ conv_cell
        pfrac = ((frac @ conv_cell) @ np.linalg.inv(pcell)) % 1.0
        keep: list[np.ndarray] = []
        for f in pfrac:
            if not any(np.allclose(_wrap_half(f - k), 0.0, atol=1e-4) for k in keep):
                keep.append(f)
        frac, cell = np.array(keep), pcell
    # edges of one net: vertex pairs at distance `edge`
    edges = _find_edges(cell / edge, frac, 1.0)
    if regularise and vertex_angles(cell, frac, edges).min() < 80.0:
        cell, frac = regularised_embedding(spec, primitive, cell / edge, frac, edges)
        cell = cell * edge
    if copies == 2:
        # second net = first translated by (1/2, 0, 0) (+ offset) of the conventional cell;
        # its edges are the first net's, re-indexed, with image shifts fixed for the wrapping
        t_conv = np.array([0.5, 0.0, 0.0]) + np.asarray(offset, dtype=float)
        t = (t_conv @ conv_cell) @ np.linalg.inv(cell)
        unwrapped = frac + t
        k = np.floor(unwrapped + 1e-9).astype(int)
        n = len(frac)
        second = edges.copy()
        second[:, 0] += n
        second[:, 1] += n
        second[:, 2:] += k[edges[:, 1]] - k[edges[:, 0]]
        frac = np.vstack([frac, unwrapped - k])
        edges = np.vstack([edges, second])
    return cell, frac, edges


def _wrap_half(d: np.ndarray) -> np.ndarray:
    return d - np.round(d)


def _find_edges(cell: np.ndarray, frac: np.ndarray, edge: float) -> np.ndarray:
    """Vertex pairs at distance ``edge`` (±2 %), each listed once (one net)."""
    from ase.neighborlist import neighbor_list

    atoms = Atoms(["X"] * len(frac), scaled_positions=frac, cell=cell, pbc=True)
    i, j, d, S = neighbor_list("ijdS", atoms, edge * 1.02)
    sel = d > edge * 0.98
    i, j, S = i[sel], j[sel], S[sel]
    deg = np.bincount(i, minlength=len(frac))
    if not np.all(deg == 4):
        raise StructureError(f"net vertices have {sorted(set(deg.tolist()))} edges, expected 4",
                             where="net", fix="report this: the stored net coordinates are wrong")
    rows = [(a, b, *s) for a, b, s in zip(i, j, S)
            if (a, b, *s) < (b, a, *(-np.asarray(s)))]  # one direction per edge
    return np.array(rows, dtype=int).reshape(-1, 5)


def vertex_angles(cell: np.ndarray, frac: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """All edge-edge angles (degrees) at every vertex of an embedded net."""
    u, pa = _edge_units(cell, frac, edges)[1], _angle_pairs(len(frac), edges)
    cos = np.sum((u[pa[:, 0]] * pa[:, 1, None]) * (u[pa[:, 2]] * pa[:, 3, None]), axis=1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _edge_units(cell, frac, edges):
    ev = (frac[edges[:, 1]] + edges[:, 2:] - frac[edges[:, 0]]) @ cell
    length = np.linalg.norm(ev, axis=1)
    return length, ev / length[:, None]


def _angle_pairs(n: int, edges: np.ndarray) -> np.ndarray:
    """Rows (edge a, sign a, edge b, sign b) for every pair of edges sharing a vertex."""
    inc: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for k, (i, j, *_s) in enumerate(edges):
        inc[i].append((k, 1))
        inc[j].append((k, -1))
    return np.array([[*inc[v][a], *inc[v][b]] for v in range(n)
                     for a in range(len(inc[v])) for b in range(a + 1, len(inc[v]))])


def regularise_embedding(cell: np.ndarray, frac: np.ndarray, edges: np.ndarray,
                         angle_range=(90.0, 140.0), min_separation: float = 1.1,
                         rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Move vertices and cell so every edge is 1, every angle in ``angle_range`` (degrees).

    The maximum-symmetry RCSR embedding of some nets has angles far from
    what a M(im)4 tetrahedron allows (zni: 68°); an imidazolate-bridged net
    has M...M...M angles of roughly 80-140° (the M-N bonds are ~18° off the
    M...M line). This minimises, over vertex positions and the cell (edge
    units): 10 (L - 1)² per edge + squared cosine violations of
    ``angle_range`` + (``min_separation`` - d)² for non-bonded vertex pairs
    closer than ``min_separation``. Topology (the edge list) is unchanged.
    Returns ``(cell, frac)`` with ``frac`` unwrapped (edge shifts stay valid).
    """
    from ase.geometry import cell_to_cellpar
    from ase.geometry.cell import cellpar_to_cell
    from ase.neighborlist import neighbor_list
    from scipy.optimize import minimize

    n = len(frac)
    pa = _angle_pairs(n, edges)
    bonded = {(int(i), int(j), *map(int, s)) for i, j, *s in edges}
    bonded |= {(int(j), int(i), *(-int(x) for x in s)) for i, j, *s in edges}
    lo, hi = np.cos(np.radians(angle_range[0])), np.cos(np.radians(angle_range[1]))
    tril = np.tril_indices(3)

    def unpack(x):
        c = np.zeros((3, 3))
        c[tril] = x[:6]
        return c, x[6:].reshape(n, 3)

    def non_bonded(c, f):
        k = np.floor(f).astype(int)
        probe = Atoms(["X"] * n, scaled_positions=f - k, cell=c, pbc=True)
        i, j, S = neighbor_list("ijS", probe, min_separation * 1.5)
        rows = []
        for a, b, sh in zip(i, j, S):
            sh = sh - k[b] + k[a]
            if a <= b and (int(a), int(b), *map(int, sh)) not in bonded:
                rows.append((a, b, *sh))
        return np.array(rows, dtype=int).reshape(-1, 5)

    def cost(x, nb):
        c, f = unpack(x)
        length, u = _edge_units(c, f, edges)
        cos = np.sum((u[pa[:, 0]] * pa[:, 1, None]) * (u[pa[:, 2]] * pa[:, 3, None]), axis=1)
        d = np.linalg.norm((f[nb[:, 1]] + nb[:, 2:] - f[nb[:, 0]]) @ c, axis=1)
        return (10.0 * np.sum((length - 1.0) ** 2) + np.sum(np.clip(cos - lo, 0, None) ** 2)
                + np.sum(np.clip(hi - cos, 0, None) ** 2)
                + np.sum(np.clip(min_separation - d, 0, None) ** 2))

    c0 = cellpar_to_cell(cell_to_cellpar(cell))  # same lattice, lower-triangular
    f0 = frac.copy()
    x = np.concatenate([c0[tril], f0.ravel()])
    for _ in range(rounds):
        nb = non_bonded(*unpack(x))
        x = minimize(cost, x, args=(nb,), method="L-BFGS-B",
                     options={"maxiter": 3000, "maxfun": 10 ** 6}).x
    return unpack(x)


#: embeddings found by :func:`regularise_embedding`, stored with the package so every
#: machine decorates the same vertices: L-BFGS-B over thousands of iterations on this
#: cost ends in different nearby minima under different floating-point rounding (BLAS
#: kernels, SIMD widths), and the decoration (ring rotations, hence tau4) follows.
EMBEDDINGS_FILE = Path(__file__).resolve().parent.parent / "data" / "net_embeddings.json"


def embedding_key(spec: NetSpec, primitive: bool) -> str:
    """What a stored embedding was made from: the RCSR net, the cell choice and the
    :func:`regularise_embedding` defaults (any change misses and recomputes)."""
    import dataclasses
    import inspect
    params = {k: v.default for k, v in inspect.signature(regularise_embedding).parameters.items()
              if v.default is not inspect.Parameter.empty}
    text = json.dumps({"net": dataclasses.asdict(spec), "primitive": bool(primitive),
                       "regularise": params}, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _stored_embeddings() -> dict:
    try:
        return json.loads(EMBEDDINGS_FILE.read_text())
    except FileNotFoundError:
        return {}


def regularised_embedding(spec: NetSpec, primitive: bool, cell: np.ndarray, frac: np.ndarray,
                          edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`regularise_embedding` of a net (edge units), read from :data:`EMBEDDINGS_FILE`
    when it holds one for the same :func:`embedding_key`, else computed."""
    stored = _stored_embeddings().get(f"{spec.name}-{embedding_key(spec, primitive)}")
    if stored is not None and len(stored["frac"]) == len(frac):
        return np.array(stored["cell"], dtype=float), np.array(stored["frac"], dtype=float)
    return regularise_embedding(cell, frac, edges)


# ----------------------------------------------------------------------------- decoration
def _rotation_frames(u: np.ndarray, n_angles: int) -> list[np.ndarray]:
    """Orthonormal frames (rows x->u, y->v(phi), z->w) for rotations about axis ``u``."""
    ref = np.array([0.0, 0.0, 1.0]) if abs(u[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    a = np.cross(u, ref)
    a /= np.linalg.norm(a)
    b = np.cross(u, a)
    frames = []
    for phi in np.linspace(0.0, 2 * np.pi, n_angles, endpoint=False):
        v = np.cos(phi) * a + np.sin(phi) * b
        frames.append(np.stack([u, v, np.cross(u, v)]))
    return frames


def decorate(cell: np.ndarray, frac: np.ndarray, edges: np.ndarray, metal: str,
             n_angles: int = 72, sweeps: int = 6, min_contact: float = 2.0) -> Atoms:
    """Metals on the vertices, one imidazolate on every edge (N toward the metals).

    Each linker is placed rigidly with its N lone pairs on the two metals; its
    rotation about the M...M axis (one of ``n_angles``) is chosen, edge by
    edge and then ``sweeps - 1`` more times against all other linkers, to
    minimise ``sum (cos(N-M-N) + 1/3)²`` over the N-M-N angles at both of its
    metals (tetrahedral metals) plus ``10 (min_contact - d)²`` for every
    contact ``d`` (Å) to other atoms shorter than ``min_contact`` (no clashes).
    """
    symbols_t, pos_t, lp = imidazolate_template()
    r = _mn_bond(metal)
    m1, m2 = pos_t[0] + r * lp[0], pos_t[2] + r * lp[1]
    local = pos_t - 0.5 * (m1 + m2)  # template frame: x along M1->M2 (template lies in xy)
    metal_pos = frac @ cell
    candidates, bond_dirs = [], []
    for i, j, *s in edges:
        p = metal_pos[i]
        q = metal_pos[j] + np.asarray(s) @ cell
        u = (q - p) / np.linalg.norm(q - p)
        centre = 0.5 * (p + q)
        cands = np.array([centre + local @ frame for frame in _rotation_frames(u, n_angles)])
        candidates.append(cands)
        # unit M->N vectors at metal i (to N1) and at metal j (to N3), per rotation
        di = cands[:, 0] - p
        dj = cands[:, 2] - q
        bond_dirs.append((di / np.linalg.norm(di, axis=1)[:, None],
                          dj / np.linalg.norm(dj, axis=1)[:, None]))
    at_metal: list[list[tuple[int, int]]] = [[] for _ in range(len(frac))]
    for k, (i, j, *_s) in enumerate(edges):
        at_metal[i].append((k, 0))
        at_metal[j].append((k, 1))
    images = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]) @ cell
    reach = float(np.abs(local).max()) * 2.0 + min_contact + 1.0
    inv_cell = np.linalg.inv(cell)
    chosen = np.full(len(edges), -1)
    for _sweep in range(max(1, sweeps)):
        for k, cands in enumerate(candidates):
            cost = np.zeros(len(cands))
            # tetrahedral N-M-N at both metals of this edge, against the linkers already chosen
            for end, vertex in enumerate(edges[k, :2]):
                mine = bond_dirs[k][end]
                for other, other_end in at_metal[vertex]:
                    if other == k or chosen[other] < 0:
                        continue
                    v = bond_dirs[other][other_end][chosen[other]]
                    cost += (mine @ v + 1.0 / 3.0) ** 2
            # clashes with the metals and the other linkers (explicit periodic images)
            others = [candidates[m][chosen[m]] for m in range(len(edges)) if m != k and chosen[m] >= 0]
            existing = np.vstack([metal_pos, *others])
            centre = cands[0].mean(axis=0)
            rel = existing - centre
            rel -= np.round(rel @ inv_cell) @ cell
            near = (rel[None, :, :] + images[:, None, :]).reshape(-1, 3)
            near = near[np.linalg.norm(near, axis=1) < reach]
            if len(near):
                d = np.linalg.norm((cands - centre)[:, :, None, :] - near[None, None, :, :], axis=3)
                cost += 10.0 * np.sum(np.clip(min_contact - d, 0.0, None) ** 2, axis=(1, 2))
            chosen[k] = int(np.argmin(cost))
    linkers = [candidates[k][chosen[k]] for k in range(len(edges))]
    atoms = Atoms([metal] * len(frac) + symbols_t * len(edges),
                  positions=np.vstack([metal_pos, *linkers]), cell=cell, pbc=True)
    atoms.wrap()
    return atoms


# ----------------------------------------------------------------------------- relaxation
def cache_dir() -> Path:
    """Per-user cache of relaxed net cells (``$ZIFSIM_CACHE/nets``, default ``~/.cache/zifsim/nets``)."""
    env = os.environ.get("ZIFSIM_CACHE")
    base = Path(env).expanduser() if env else \
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zifsim"
    return base / "nets"


#: relaxed cells committed with the repository, named exactly like the cache files
#: (``structures/nets/<tag>-<key>.extxyz``): the key in the name hashes the recipe
#: (:data:`RECIPE_VERSION`), every input and the relaxing model, so a changed recipe,
#: input or model finds no seed and relaxes afresh. A fresh machine with an empty cache
#: thus gets the committed relaxations without minutes of MLIP work. To refresh them, run
#: ``zifsim build NAME`` with an empty ``$ZIFSIM_CACHE`` and copy the new cache files here.
SEED_DIR = STRUCTURES_DIR / "nets"


def _cached(path: Path) -> Atoms | None:
    """The relaxed cell stored under ``path`` (user cache) or its committed seed; None if neither."""
    for candidate in (path, SEED_DIR / path.name):
        if candidate.is_file():
            return _read_cache(candidate)
    return None


def need_relaxer(provider: Any, what: str = "the cell") -> Any:
    """The force model that relaxes a cell: ``provider``, or ``provider()`` when it is a
    factory (so a cache hit need not build it). Structures sit below the force providers
    in the layers (docs/architecture.md), so the caller passes the model, e.g.
    ``zifsim.potentials.mlip.MLIPProvider()`` (CHGNet + D3); ``zifsim build`` does."""
    if provider is None:
        raise ConfigError(f"relaxing {what} needs a force model and none was given",
                          where="provider",
                          fix="pass provider=zifsim.potentials.mlip.MLIPProvider() (CHGNet + D3), "
                              "or build it with `zifsim build NAME --out DIR`")
    if callable(provider) and not hasattr(provider, "metadata"):
        provider = provider()
    return provider


def relax_cell(atoms: Atoms, provider: Any = None, fmax: float = 0.05, steps: int = 400,
               optimizer: str = "FIRE", log: str | None = None, cell: bool = True) -> dict[str, Any]:
    """Relax positions and cell of ``atoms`` in place with an MLIP (hydrostatic 0 bar).

    Parameters
    ----------
    provider : the relaxing model, e.g. :class:`zifsim.potentials.mlip.MLIPProvider` (CHGNet + D3),
        or a zero-argument factory of one (:func:`need_relaxer`); required.
    fmax : force (eV/Å) and scaled-stress convergence criterion.
    steps : maximum optimiser steps.
    optimizer : ``"FIRE"`` or ``"BFGS"`` (ASE optimisers on a FrechetCellFilter).
    cell : relax the cell too (``False``: positions only, fixed cell).

    Returns a summary: steps, converged, final energy (eV), max force (eV/Å),
    volume (Å³), wall time (s).
    """
    import time
    import warnings

    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE

    provider = need_relaxer(provider)
    provider.check_elements(atoms.get_chemical_symbols())
    atoms.calc = provider.calculator
    filt = FrechetCellFilter(atoms) if cell else atoms
    if optimizer not in ("FIRE", "BFGS"):
        raise ConfigError(f"unknown optimizer {optimizer!r}", where="optimizer", fix="use FIRE or BFGS")
    opt_cls = {"FIRE": FIRE, "BFGS": BFGS}[optimizer]
    t0 = time.perf_counter()
    opt = opt_cls(filt, logfile=log)
    with warnings.catch_warnings():  # scipy logm accuracy notes from the cell filter
        warnings.simplefilter("ignore", RuntimeWarning)
        converged = bool(opt.run(fmax=fmax, steps=steps))
    energy = float(atoms.get_potential_energy())
    fmax_now = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
    summary = {"optimizer": optimizer, "steps": int(opt.nsteps), "converged": converged,
               "fmax_eV_A": fmax, "final_fmax_eV_A": fmax_now, "energy_eV": energy,
               "volume_A3": float(atoms.get_volume()), "wall_s": time.perf_counter() - t0,
               "provider": provider.name, "cell_relaxed": bool(cell)}
    atoms.calc = None
    return summary


# ----------------------------------------------------------------------------- public
def build_net_cell(net: str, metal: str = "Zn", linker: str = "im", relax: bool = True,
                   offset=None, primitive: bool = True, provider: Any = None,
                   fmax: float = 0.05, steps: int = 400, cache: bool = True) -> Atoms:
    """A M(im)2 cell on ``net``, optionally relaxed (positions + cell) with an MLIP.

    Parameters
    ----------
    net : ``"dia-c"`` (Cd(im)2), ``"dia"`` or ``"zni"`` (ZIF-zni).
    metal : tetrahedral metal on the vertices (Zn, Co, Cu, Cd, Fe ...).
    linker : only ``"im"`` (imidazolate) is supported.
    relax : relax with ``provider`` (required then, e.g. ``MLIPProvider()``) to ``fmax`` eV/Å,
        at most ``steps``.
    offset : extra shift of the second net of ``dia-c`` (conventional-cell fractions);
        ``None``: :data:`DIA_C_DEFAULT_OFFSET` for dia-c, none otherwise.
    primitive : build in the primitive cell (dia-c: M4(im)8, 76 atoms; zni: M16(im)32, 304).
    cache : reuse / store the relaxed cell under :func:`cache_dir`, keyed by all inputs
        and the provider's metadata.

    Returns ``ase.Atoms`` with ``info``: name, source (net, RCSR), relaxation summary.
    """
    if linker != "im":
        raise ConfigError(f"linker {linker!r} is not supported on net-built cells yet",
                          where="linkers", fix="use linker 'im'; substitute bim afterwards")
    spec, copies = _resolve_net(net)
    if offset is None:
        offset = DIA_C_DEFAULT_OFFSET if copies == 2 else (0.0, 0.0, 0.0)
    path = None
    if relax:   # a cached (or committed) relaxation needs no decoration
        provider = need_relaxer(provider, f"the {net} cell of {metal}(im)2")
        path = net_cache_path(net, metal, provider, linker, offset, primitive, fmax, steps)
        hit = _cached(path) if cache else None
        if hit is not None:
            return hit
    span = linker_span(metal)
    cell, frac, edges = net_vertices(net, offset=offset, primitive=primitive, edge=span)
    atoms = decorate(cell, frac, edges, metal)
    atoms.info.update({"name": f"{metal}(im)2-{net}", "source": f"net:{net} ({spec.source})",
                       "net": str(net), "metal": metal, "linker": linker,
                       "offset": [float(x) for x in offset]})
    if not relax:
        atoms.info["relaxed"] = False
        return atoms
    summary = relax_cell(atoms, provider, fmax=fmax, steps=steps)
    atoms.wrap()
    atoms.info.update({"relaxed": True, "relaxation": summary})
    if cache:
        _write_cache(atoms, path)
    return atoms


def net_cache_path(net: str, metal: str, provider: Any, linker: str = "im", offset=None,
                   primitive: bool = True, fmax: float = 0.05, steps: int = 400) -> Path:
    """Cache file of :func:`build_net_cell`'s relaxed cell: ``<metal>-im-<net>-<key>.extxyz``
    in :func:`cache_dir`; the key hashes :data:`RECIPE_VERSION`, every input and the model."""
    if offset is None:
        offset = DIA_C_DEFAULT_OFFSET if _resolve_net(net)[1] == 2 else (0.0, 0.0, 0.0)
    key = hashlib.sha256(json.dumps({
        "recipe": RECIPE_VERSION, "net": net, "metal": metal, "linker": linker,
        "offset": [float(x) for x in offset], "primitive": primitive, "fmax": fmax,
        "steps": steps, **_provider_key(provider)}, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"{metal}-im-{net}-{key}.extxyz"


def _read_cache(path: Path) -> Atoms:
    import ase.io

    cached = ase.io.read(path, format="extxyz")
    cached.calc = None
    info = json.loads(cached.info.get("zifsim_json", "{}"))
    cached.info.clear()
    cached.info.update(info)
    return cached


def _provider_key(provider: Any) -> dict[str, Any]:
    """What identifies the relaxing model in a cache key: name, model, version, weights, dispersion."""
    meta = provider.metadata()
    return {"provider": getattr(provider, "name", None), "dispersion": meta.get("dispersion"),
            "model": meta.get("model"), "version": meta.get("model_version"),
            "weights": meta.get("weights_sha256")}


#: Staged relaxation of a cell with new, possibly clashing atoms (substituted linkers):
#: positions only first (FIRE: no cell collapse or blow-up from the clash forces), then
#: positions + cell with BFGS (near the minimum it needs far fewer force calls than FIRE,
#: which matters at 340 atoms: ~3.5 s per CHGNet call on a loaded 2-core machine).
STAGED_RELAX = ({"cell": False, "fmax": 0.2, "steps": 60, "optimizer": "FIRE"},
                {"cell": True, "fmax": 0.05, "steps": 400, "optimizer": "BFGS"})


def relax_staged(atoms: Atoms, provider: Any = None, stages=STAGED_RELAX, tag: str = "cell",
                 cache: bool = True) -> Atoms:
    """Relax a copy of ``atoms`` in ``stages`` (positions only / cell too) with an MLIP, cached.

    Parameters
    ----------
    stages : sequence of ``{"cell": bool, "fmax": eV/Å, "steps": int, "optimizer": "FIRE"|"BFGS"}``,
        run in order.
    tag : file-name prefix in :func:`cache_dir`.
    cache : reuse / store the result; the key hashes every input: symbols, positions
        and cell (rounded to 1e-5 Å), the stages, :data:`RECIPE_VERSION` and the
        provider's model, weights and dispersion.

    Returns the relaxed, wrapped ``Atoms`` with ``info["relaxation"]``: one
    :func:`relax_cell` summary per stage (steps, energy eV, wall time s ...).
    """
    provider = need_relaxer(provider)
    stages = [dict(st) for st in stages]
    h = hashlib.sha256()
    h.update(json.dumps({"recipe": RECIPE_VERSION, "stages": stages, **_provider_key(provider)},
                        sort_keys=True).encode())
    h.update(" ".join(atoms.get_chemical_symbols()).encode())
    h.update(np.round(np.asarray(atoms.positions, float), 5).tobytes())
    h.update(np.round(np.asarray(atoms.cell, float), 5).tobytes())
    path = cache_dir() / f"{tag}-{h.hexdigest()[:16]}.extxyz"
    hit = _cached(path) if cache else None
    if hit is not None:
        return hit
    out = atoms.copy()
    out.info = dict(atoms.info)
    summaries = []
    for st in stages:
        summaries.append(relax_cell(out, provider, fmax=float(st.get("fmax", 0.05)),
                                    steps=int(st.get("steps", 400)), cell=bool(st.get("cell", True)),
                                    optimizer=str(st.get("optimizer", "FIRE"))))
    out.wrap()
    out.info.update({"relaxed": True, "relaxation": summaries})
    if cache:
        _write_cache(out, path)
    return out


def _write_cache(atoms: Atoms, path: Path) -> None:
    import ase.io

    from zifsim.fileio import atomic_path

    out = atoms.copy()
    out.info = {"zifsim_json": json.dumps(atoms.info, default=str)}
    with atomic_path(path) as tmp:
        ase.io.write(tmp, out, format="extxyz")


# ----------------------------------------------------------------------------- validation
def net_report(atoms: Atoms, metal: str | None = None, r_mm: float = 7.6) -> dict[str, Any]:
    """Geometry facts of a M(im)2 net cell.

    Returns a dict with: ``density_gcm3``, ``metal_density_nm3`` (metals per
    nm³), ``cn`` (per-metal M-N coordination numbers), ``mn_A`` (all M-N bond
    lengths), ``tau4`` (per-metal four-coordinate geometry index: 1 tetrahedral,
    0 square planar; NaN unless CN 4), ``n_networks`` (connected frameworks in the cell),
    ``intra_mm_A`` (M...M distances across one linker), ``inter_mm_A`` (M...M
    distances < ``r_mm`` Å between metals of different networks, each pair
    once).
    """
    from ase.neighborlist import neighbor_list
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    symbols = np.array(atoms.get_chemical_symbols())
    metals = sorted(metals_in(symbols))
    if metal is None:
        if len(metals) != 1:
            raise StructureError(f"expected one metal, found {metals}", where="metal",
                                 fix="pass metal=...")
        metal = metals[0]
    m_idx = np.flatnonzero(symbols == metal)
    if len(m_idx) == 0:
        raise StructureError(f"no {metal} atoms in the cell", where="metal")
    cutoff = mn_cutoff(metal)
    # covalent bonds (non-metal) + M-N bonds
    i, j, d, S = neighbor_list("ijdS", atoms, max(cutoff, 1.7))
    si, sj = symbols[i], symbols[j]
    is_m_i, is_m_j = np.isin(si, metals), np.isin(sj, metals)
    covalent = (~is_m_i) & (~is_m_j) & (d < 1.7) & ~((si == "H") & (sj == "H"))
    mn = is_m_i & (sj == "N") & (d < cutoff)
    cn = np.bincount(i[mn], minlength=len(atoms))[m_idx]
    D = neighbor_list("D", atoms, max(cutoff, 1.7))
    tau4 = [tau4_of(D[mn & (i == m)]) if cn_m == 4 else float("nan") for m, cn_m in zip(m_idx, cn)]
    bonded = covalent | mn | ((sj == metal) & np.isin(si, ["N"]) & (d < cutoff))
    g = coo_matrix((np.ones(bonded.sum()), (i[bonded], j[bonded])), shape=(len(atoms),) * 2)
    ncomp, label = connected_components(g, directed=False)
    net_of_metal = label[m_idx]
    n_networks = len(set(net_of_metal.tolist()))
    # intra-network: two metals bonded to N of the same ring (N...N 2.2 Å)
    gc = coo_matrix((np.ones(covalent.sum()), (i[covalent], j[covalent])), shape=(len(atoms),) * 2)
    _, ring = connected_components(gc, directed=False)
    mi, mj, md, mS = neighbor_list("ijdS", atoms, r_mm)
    sel = (symbols[mi] == metal) & (symbols[mj] == metal) & (mi <= mj)
    sel &= ~((mi == mj) & np.all(mS == 0, axis=1))
    mi, mj, md, mS = mi[sel], mj[sel], md[sel], mS[sel]
    # ring ids each metal binds to, with the image shift of the N
    ni, nj, nS = i[mn], j[mn], S[mn]
    bonded_rings: dict[int, list[tuple[int, np.ndarray]]] = {}
    for a, b, s in zip(ni, nj, nS):
        bonded_rings.setdefault(int(a), []).append((int(b), s))
    intra, inter = [], []
    pos = atoms.positions
    cellm = np.asarray(atoms.cell)
    for a, b, dist, s in zip(mi, mj, md, mS):
        same_net = label[a] == label[b]
        via_linker = False
        if same_net:
            for n1, s1 in bonded_rings.get(int(a), []):
                for n2, s2 in bonded_rings.get(int(b), []):
                    if ring[n1] != ring[n2]:
                        continue
                    # the two N must be the same ring instance: N...N about 2.2 Å
                    v = (pos[n2] + (s2 + s) @ cellm) - (pos[n1] + s1 @ cellm)
                    if np.linalg.norm(v) < 2.6:
                        via_linker = True
        if via_linker:
            intra.append(float(dist))
        elif not same_net:
            inter.append(float(dist))
    volume_nm3 = atoms.get_volume() / 1000.0
    return {
        "metal": metal, "n_metal": int(len(m_idx)),
        "density_gcm3": density_gcm3(atoms),
        "metal_density_nm3": len(m_idx) / volume_nm3,
        "cn": cn.tolist(), "mn_A": d[mn].tolist(), "tau4": tau4, "n_networks": n_networks,
        "intra_mm_A": sorted(intra), "inter_mm_A": sorted(inter),
    }
