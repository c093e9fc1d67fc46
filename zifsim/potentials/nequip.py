"""Deployed NequIP / Allegro models (TorchScript ``.pth``) as an ASE calculator.

A deployed NequIP model is a self-contained TorchScript program: it needs
torch, not the ``nequip`` package, to run. Its input is a dict of tensors

* ``pos`` (N, 3) Å, ``cell`` (3, 3) Å (lattice rows), ``atom_types`` (N,) int64,
* ``edge_index`` (2, E) int64: every ordered pair (i, j), i != j or a periodic
  image, with ``|x_j - x_i + S . cell| < r_max``,
* ``edge_cell_shift`` (E, 3): the integer image shift S of each edge,

and its output holds ``total_energy`` (eV), ``forces`` (eV/Å),
``atomic_energy`` and, for models trained with stress, ``stress`` (eV/Å³,
ASE's sign: (1/V) dE/dε) and ``virial``. The ``_extra_files`` metadata of
the ``.pth`` gives ``type_names`` (the order of ``atom_types``), ``r_max``
and the versions that wrote it. This is the format nequip 0.5/0.6
``nequip-deploy`` writes (nequip >= 0.7 uses another one).

Why a driver here and not ``nequip.ase.NequIPCalculator``: nequip 0.6.2 (the
last release that reads this format) requires ``e3nn<0.6``, while the
project's SevenNet (sevenn 0.13.0) pulls e3nn 0.6.0; the deployed model
itself needs neither. The driver does what nequip's calculator does (same
keys, same edge convention as its ``AtomicData.from_points``, which also uses
an ASE-convention ``ijS`` list) and is tested against the raw model called
with an independent ASE neighbour list (``tests/test_nequip_provider.py``).

Speed (numbers in ``docs/fidelity.md``, ``benchmarks/bench_nequip.py``):

* the neighbour list (:class:`SkinNeighbourList`) is built with a skin and
  kept between calls while no atom moved more than allowed (the cell change
  of NPT is included in the bound), so an MD step only recomputes distances;
* float32 throughout (the model's dtype), tensors built once per call;
* TorchScript executor: ``legacy`` (``torch._C._jit_set_profiling_executor(False)``)
  skips the profiling executor's first slow calls and re-specialisations when
  the number of edges changes every step; ``freeze`` runs ``torch.jit.freeze``
  (what nequip's loader does).

Device: ``cpu`` (default) or ``cuda``/``cuda:N``; the model and every tensor
are moved there, results come back as float64 numpy arrays.
"""
from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from zifsim.errors import ConfigError, ForceFieldError

#: metadata keys stored in a deployed model's ``_extra_files``
METADATA_KEYS = ("nequip_version", "torch_version", "e3nn_version", "r_max", "n_species",
                 "type_names", "_jit_bailout_depth", "_jit_fusion_strategy", "allow_tf32",
                 "default_dtype", "model_dtype")
EXECUTORS = ("legacy", "profiling")


def _neighbour_backend():
    """(name, function(positions, cell, cutoff) -> (i, j, S)) of the fastest library present."""
    try:
        from matscipy.neighbours import neighbour_list as msp

        def matscipy_nl(positions, cell, cutoff):
            return msp("ijS", positions=positions, cell=cell, pbc=np.array([True] * 3), cutoff=cutoff)
        return "matscipy", matscipy_nl
    except ImportError:  # pragma: no cover - matscipy comes with the [mlip] extra (sevenn)
        from ase.neighborlist import primitive_neighbor_list

        def ase_nl(positions, cell, cutoff):
            return primitive_neighbor_list("ijS", [True] * 3, cell, positions, cutoff,
                                           self_interaction=False, use_scaled_positions=False)
        return "ase", ase_nl


def reference_edges(atoms, r_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges of ``atoms`` within ``r_max`` Å from ASE's own neighbour list (no skin, no reuse):
    the independent reference the driver is tested against. Returns (i, j, S)."""
    from ase.neighborlist import neighbor_list
    return neighbor_list("ijS", atoms, float(r_max), self_interaction=False)


class SkinNeighbourList:
    """All ordered periodic pairs within ``cutoff`` Å, from a list built at ``cutoff + skin``.

    The list of candidate pairs (i, j, S) is rebuilt only when an atom may have
    crossed the skin: with Δx the largest displacement of an atom since the
    build (positions unwrapped against the build's, so LAMMPS re-wrapping an
    atom into the box is no move) and Δh_k the change of lattice row k, a pair
    that was farther than ``cutoff + skin`` is still farther than ``cutoff``
    while ``2 Δx + Σ_k S_max,k |Δh_k| < skin``, where S_max,k bounds the image
    index of a pair within the cutoff. Every call recomputes the distances of
    the candidates exactly, so the result equals a fresh list.
    """

    def __init__(self, cutoff: float, skin: float = 1.0):
        self.cutoff, self.skin = float(cutoff), float(skin)
        if self.cutoff <= 0 or self.skin < 0:
            raise ConfigError("neighbour-list cutoff must be > 0 and skin >= 0 Å", where="provider.skin",
                              fix="e.g. skin: 1.0")
        self.backend, self._build = _neighbour_backend()
        self.builds = 0
        self.calls = 0
        self._ref_pos = self._ref_cell = None

    def _rebuild(self, pos: np.ndarray, cell: np.ndarray) -> None:
        i, j, S = self._build(pos, cell, self.cutoff + self.skin)
        self._i, self._j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        self._S = np.asarray(S, dtype=np.int64)
        self._ref_pos, self._ref_cell = pos.copy(), cell.copy()
        self._ref_inv = np.linalg.inv(cell)
        self.builds += 1

    def _needs_rebuild(self, pos: np.ndarray, cell: np.ndarray) -> tuple[bool, np.ndarray]:
        if self._ref_pos is None or len(pos) != len(self._ref_pos):
            return True, pos
        if self.skin == 0.0:
            return True, pos
        inv = np.linalg.inv(cell)
        jumps = np.rint(pos @ inv - self._ref_pos @ self._ref_inv)  # lattice jumps (re-wrapping)
        unwrapped = pos - jumps @ cell
        move = float(np.sqrt(((unwrapped - self._ref_pos) ** 2).sum(axis=1)).max())
        dh = np.linalg.norm(cell - self._ref_cell, axis=1)
        if dh.any():
            frac = unwrapped @ inv
            spread = frac.max(axis=0) - frac.min(axis=0)
            widths = np.abs(np.linalg.det(cell)) / np.linalg.norm(
                np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
            s_max = np.floor(self.cutoff / widths + spread) + 1.0
            move_cell = float((s_max * dh).sum())
        else:
            move_cell = 0.0
        return 2.0 * move + move_cell >= self.skin, unwrapped

    def update(self, positions: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Edges (i, j, S) within the cutoff for these positions (Å) and lattice rows (Å).

        Positions may be unwrapped or wrapped differently from the last call; the
        returned shifts S refer to the positions *as given*.
        """
        pos = np.asarray(positions, dtype=float)
        cell = np.asarray(cell, dtype=float)
        self.calls += 1
        rebuild, unwrapped = self._needs_rebuild(pos, cell)
        if rebuild:
            self._rebuild(pos, cell)
            unwrapped = pos
        jumps = np.rint((pos - unwrapped) @ np.linalg.inv(cell)).astype(np.int64)
        i, j, S = self._i, self._j, self._S
        d = unwrapped[j] - unwrapped[i] + S @ cell
        keep = np.einsum("ij,ij->i", d, d) < self.cutoff ** 2
        i, j, S = i[keep], j[keep], S[keep]
        # as given, x = unwrapped + jumps.cell: shift of the pair changes by jump_i - jump_j
        if jumps.any():
            S = S + jumps[i] - jumps[j]
        return i, j, S


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``_extra_files`` metadata of a deployed model (``type_names``, ``r_max`` ...).

    Read from the TorchScript zip archive (``<archive>/extra/<key>``) without
    importing torch, so element checks are cheap and work before anything is run.
    """
    import zipfile
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            extra = {}
            for name in zf.namelist():
                parts = name.split("/")
                if len(parts) == 3 and parts[1] == "extra":
                    extra[parts[2]] = zf.read(name).decode("ascii", "replace")
    except (zipfile.BadZipFile, OSError) as exc:
        raise ForceFieldError(f"{path} is not a deployed TorchScript (NequIP/Allegro) model: {exc}",
                              source=str(path),
                              fix="give the .pth written by nequip-deploy (nequip 0.5/0.6 format); "
                                  "compare its sha256 with `zifsim forcefield list`") from None
    if not extra.get("type_names"):
        raise ForceFieldError(f"{path} has no type_names metadata: not a deployed NequIP/Allegro model",
                              source=str(path), fix="give the .pth written by nequip-deploy")
    return {k: extra.get(k, "") for k in METADATA_KEYS}


def resolve_model_file(name_or_path: str | os.PathLike) -> Path:
    """Path of a deployed model given as a path, a file name or a registry name.

    Names are looked up in :func:`zifsim.settings.forcefield_dir`
    (``$ZIFSIM_FORCEFIELD_DIR``), like ReaxFF files.
    """
    from zifsim import settings
    from zifsim.potentials.reaxff import registry_entry
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    folder = settings.forcefield_dir()
    entry = registry_entry(str(name_or_path))
    names = [str(name_or_path)] + ([entry["file"]] if entry else [])
    for name in names:
        if (folder / name).is_file():
            return (folder / name).resolve()
    fetch = (f"`zifsim forcefield fetch {entry['name']}`" if entry
             else "copy the file there")
    raise ForceFieldError(f"deployed NequIP model {name_or_path!r} not found "
                          f"(looked for {', '.join(dict.fromkeys(names))} in {folder})",
                          where="provider.file",
                          fix=f"set ZIFSIM_FORCEFIELD_DIR to the folder holding it, give file: PATH, or {fetch}")


def model_record(path: Path | None, sha: str | None) -> dict[str, Any]:
    """Provenance of a deployed model for run metadata: registry entry, metadata, versions."""
    from zifsim.potentials.reaxff import registry_entry
    if path is None:
        return {}
    meta = read_metadata(path)
    entry = registry_entry(sha) if sha else None
    record = {"file": str(path), "sha256": sha, "registered": bool(entry),
              "registry_name": (entry or {}).get("name"),
              "type_names": meta["type_names"].split(), "r_max_A": float(meta["r_max"] or "nan"),
              "written_by": {"nequip": meta["nequip_version"], "torch": meta["torch_version"],
                             "e3nn": meta["e3nn_version"]},
              "package_versions": package_versions(), "neighbour_list": _neighbour_backend()[0]}
    if entry:
        record["citation"] = " ".join(str(entry.get("citation", "")).split())
        record["licence"] = entry.get("licence")
        record["source_url"] = entry.get("url")
    return record



def tune_malloc() -> bool:
    """Keep freed memory in glibc's heap instead of returning it to the kernel.

    The model's backward pass allocates and frees many tensors of a few MiB
    (slice gradients, zero-filled); with glibc's defaults each one is a fresh
    ``mmap`` whose pages the kernel must fault in and zero again. Raising
    M_MMAP_THRESHOLD to 32 MiB and M_TRIM_THRESHOLD to 1 GiB (``mallopt``)
    reuses them. Process-wide; returns False where glibc is absent (no-op).
    """
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 * 1024 * 1024)) and bool(mallopt(m_trim_threshold, 1 << 30))


def _set_fusion_strategy(text: str) -> None:
    """Apply the model's ``_jit_fusion_strategy`` (e.g. ``DYNAMIC,3``) as nequip's loader does."""
    import torch
    parts = [p.strip() for p in text.replace("(", "").replace(")", "").split(",") if p.strip()]
    strategy = [(parts[k], int(parts[k + 1])) for k in range(0, len(parts) - 1, 2)]
    if strategy:
        torch.jit.set_fusion_strategy(strategy)


class DeployedModel:
    """A deployed NequIP/Allegro TorchScript model loaded once, called on numpy arrays.

    Parameters
    ----------
    path : the ``.pth`` file.
    device : ``"cpu"`` or ``"cuda"`` / ``"cuda:N"``.
    executor : ``"legacy"`` (default, fastest here) or ``"profiling"`` (torch's default).
        Global to the process: TorchScript has one executor setting.
    freeze : apply ``torch.jit.freeze`` (as nequip's loader does).
    malloc : call :func:`tune_malloc` (glibc keeps freed blocks; process-wide).
    """

    def __init__(self, path: str | os.PathLike, device: str = "cpu", executor: str = "legacy",
                 freeze: bool = True, malloc: bool = True):
        import torch
        if malloc:
            tune_malloc()
        self.path = Path(path)
        if executor not in EXECUTORS:
            raise ConfigError(f"unknown TorchScript executor {executor!r}", where="provider.executor",
                              fix=f"use one of {', '.join(EXECUTORS)}")
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ForceFieldError(f"device {device!r} asked for, but torch sees no CUDA GPU "
                                  f"(torch {torch.__version__})", where="provider.device",
                                  fix="use device: cpu, or install a CUDA build of torch on a GPU machine")
        self.meta = read_metadata(self.path)
        self.type_names = self.meta["type_names"].split()
        if not self.type_names or not self.meta["r_max"]:
            raise ForceFieldError(f"{self.path} has no type_names / r_max metadata", source=str(self.path),
                                  fix="give a model written by nequip-deploy")
        self.r_max = float(self.meta["r_max"])
        self.device = torch.device(device)
        self.executor, self.freeze = executor, bool(freeze)
        torch._C._jit_set_profiling_executor(executor == "profiling")
        if self.meta.get("_jit_fusion_strategy"):
            _set_fusion_strategy(self.meta["_jit_fusion_strategy"])
        model = torch.jit.load(str(self.path), map_location=self.device)
        model.eval()
        if self.freeze:
            model = torch.jit.freeze(model)
        self.model = model
        dtype = self.meta.get("model_dtype") or "float32"
        self.dtype = {"float32": torch.float32, "float64": torch.float64}.get(dtype, torch.float32)

    def types_of(self, symbols) -> np.ndarray:
        """Model type index of each chemical symbol (raises naming the unknown ones)."""
        index = {name: k for k, name in enumerate(self.type_names)}
        missing = sorted(set(symbols) - set(index))
        if missing:
            raise ForceFieldError(f"model {self.path.name} has no type for {', '.join(missing)} "
                                  f"(type_names {' '.join(self.type_names)})", source=str(self.path))
        return np.array([index[s] for s in symbols], dtype=np.int64)

    def __call__(self, positions, cell, types, edge_i, edge_j, shifts) -> dict[str, np.ndarray]:
        """Run the model; returns float64 numpy arrays of every output tensor."""
        import torch
        dev, dt = self.device, self.dtype
        data = {"pos": torch.as_tensor(np.asarray(positions), dtype=dt, device=dev),
                "cell": torch.as_tensor(np.asarray(cell), dtype=dt, device=dev),
                "atom_types": torch.as_tensor(types, dtype=torch.long, device=dev),
                "edge_index": torch.as_tensor(np.stack([edge_i, edge_j]), dtype=torch.long, device=dev),
                "edge_cell_shift": torch.as_tensor(shifts, dtype=dt, device=dev)}
        out = self.model(data)
        return {k: v.detach().cpu().numpy().astype(float) for k, v in out.items()
                if isinstance(v, torch.Tensor) and k in ("total_energy", "forces", "stress",
                                                          "virial", "atomic_energy")}


class NequIPCalculator(Calculator):
    """ASE calculator for a deployed NequIP/Allegro model (energy eV, forces eV/Å, stress eV/Å³).

    Parameters
    ----------
    model : a :class:`DeployedModel`.
    skin : neighbour-list skin (Å); 0 rebuilds the list at every call.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model: DeployedModel, skin: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.nl = SkinNeighbourList(model.r_max, skin)
        self._types_key = None
        self.last_edges = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Evaluate the model on ``atoms`` (periodic in all three directions)."""
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        if not atoms.pbc.all():
            raise ForceFieldError("the NequIP driver needs a cell periodic in x, y and z",
                                  fix="give a 3D-periodic cell")
        numbers = atoms.numbers
        if self._types_key is None or not np.array_equal(self._types_key, numbers):
            self._types = self.model.types_of(atoms.get_chemical_symbols())
            self._types_key = numbers.copy()
        pos, cell = atoms.positions, atoms.cell.array
        i, j, S = self.nl.update(pos, cell)
        self.last_edges = len(i)
        out = self.model(pos, cell, self._types, i, j, S)
        energy = float(np.asarray(out["total_energy"]).reshape(-1)[0])
        self.results = {"energy": energy, "free_energy": energy,
                        "forces": out["forces"].reshape(-1, 3)}
        if "atomic_energy" in out:
            self.results["energies"] = out["atomic_energy"].reshape(-1)
        if "stress" in out:
            from ase.stress import full_3x3_to_voigt_6_stress
            self.results["stress"] = full_3x3_to_voigt_6_stress(out["stress"].reshape(3, 3))


def package_versions() -> dict[str, str | None]:
    """Versions of the packages the driver runs on."""
    def version(pkg):
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return None
    return {"torch": version("torch"), "numpy": version("numpy"), "ase": version("ase"),
            "matscipy": version("matscipy")}
