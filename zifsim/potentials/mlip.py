"""Universal machine-learned interatomic potentials (offline) as a :class:`ForceProvider`.

Two models whose weights ship inside their PyPI wheels, so nothing is
downloaded at run time:

* ``chgnet`` -- CHGNet 0.3.0 (Deng et al., Nat. Mach. Intell. 2023, 5, 1031;
  package ``chgnet``, BSD-3), trained on the Materials Project trajectory set;
* ``sevennet`` -- SevenNet-0 (Park et al., J. Chem. Theory Comput. 2024, 20,
  4857; package ``sevenn``, MIT), optional;
* ``nequip`` -- a deployed NequIP/Allegro TorchScript model read from
  ``$ZIFSIM_FORCEFIELD_DIR`` like a ReaxFF file (default: the ZIF-4 model
  ``nequip_l2r6stress0.pth`` of Castel et al., Digital Discovery 2024, 3, 355,
  registered in ``zifsim/data/forcefields.yaml``; ``zifsim forcefield fetch
  NequIP_ZIF4``), run by :mod:`zifsim.potentials.nequip`. It knows only the
  elements of its ``type_names`` (H C N Zn for the ZIF-4 model).

Route: LAMMPS stays the integrator. :meth:`MLIPProvider.setup_commands`
defines ``pair_style zero`` (neighbour skin and ghost cutoff only) and a
``fix external pf/callback``; :meth:`MLIPProvider.attach` registers a Python
callback (:mod:`zifsim.potentials.ase_bridge`) that evaluates the ASE
calculator on the current positions and box and hands back forces, energy
and the full virial, so NVT, NPT (``fix npt``/``nph``) and ``fix deform``
work exactly as with a pair style. Units are ``metal`` (eV, Å, ps, bar).

Spec keys (``provider: {kind: mlip, ...}``)::

    model: chgnet | sevennet | nequip   (default chgnet)
    file: nequip_l2r6stress0.pth   (nequip only: name in $ZIFSIM_FORCEFIELD_DIR, registry
                                    name NequIP_ZIF4, or a path)
    skin: 1.0                      (nequip only: neighbour-list skin, Å)
    executor: legacy | profiling   (nequip only: TorchScript executor, default legacy)
    version: "0.3.0"               (chgnet weights in the wheel: 0.3.0, 0.2.0, r2scan)
    device: cpu | cuda             (default cpu)
    threads: 1                     (torch intra-op threads)
    cutoff: 6.0                    (Å; pair_style zero cutoff = ghost/neighbour range
                                    for LAMMPS computes such as rdf or coord/atom)
    dispersion: d3bj | none        (default d3bj for chgnet/sevennet: Grimme D3(BJ) with PBE
                                    parameters, package ``dftd3``, added to the model;
                                    default none for nequip, fitted to its own DFT data)
    fix_id: zifsim_mlip

Dispersion: CHGNet and SevenNet-0 are fitted to PBE(+U) energies (Materials
Project), which miss London dispersion; ZIF packing (interpenetrated nets,
dense ZIF-zni) depends on it, so D3(BJ) (Grimme et al., J. Comput. Chem.
2011, 32, 1456) is added by default, as in the PBE-D3 references.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import importlib.metadata
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from zifsim.errors import ConfigError, ForceFieldError
from zifsim.fileio import sha256_file
from zifsim.potentials.base import ForceProvider

MODELS = ("chgnet", "sevennet", "nequip")
_KEYS = {"model", "version", "device", "threads", "cutoff", "fix_id", "dispersion",
         "file", "skin", "executor"}
_NEQUIP_ONLY = ("file", "skin", "executor")
#: registry name of the default deployed NequIP model (zifsim/data/forcefields.yaml)
DEFAULT_NEQUIP = "NequIP_ZIF4"
DISPERSION = ("d3bj", "none")
_CITATIONS = {
    "chgnet": "B. Deng et al., CHGNet as a pretrained universal neural network potential "
              "for charge-informed atomistic modelling, Nat. Mach. Intell. 5, 1031 (2023)",
    "sevennet": "Y. Park et al., Scalable parallel algorithm for graph neural network "
                "interatomic potentials in molecular dynamics simulations, "
                "J. Chem. Theory Comput. 20, 4857 (2024)",
    "nequip": "S. Batzner et al., E(3)-equivariant graph neural networks for data-efficient and "
              "accurate interatomic potentials, Nat. Commun. 13, 2453 (2022)",
}
_PACKAGES = {"chgnet": "chgnet", "sevennet": "sevenn", "nequip": "torch"}
_DEFAULT_VERSION = {"chgnet": "0.3.0", "sevennet": "7net-0", "nequip": None}
#: what to use for elements a model lacks (named in the refusal)
_INSTEAD = ("provider: {kind: mlip, model: chgnet} or {kind: mlip, model: sevennet} "
            "(universal MLIPs covering Cd, Co, Cu, Cl ...)")


def mlip_available(model: str = "chgnet") -> bool:
    """True when the Python package of ``model`` (and torch) can be imported."""
    try:
        importlib.import_module("torch")
        importlib.import_module(_PACKAGES[model])
    except Exception:  # ImportError, or a broken torch install
        return False
    return True


class MLIPProvider(ForceProvider):
    """A universal MLIP evaluated in Python and fed to LAMMPS by ``fix external``.

    Parameters
    ----------
    model : ``"chgnet"``, ``"sevennet"`` or ``"nequip"``.
    version : weights name inside the wheel (``None``: the package default; unused for nequip).
    device : torch device, ``"cpu"`` or ``"cuda"``.
    threads : torch intra-op threads (keep it at or below the free cores).
    cutoff : ``pair_style zero`` cutoff, Å (LAMMPS ghost range, not the model's).
    fix_id : ID of the ``fix external``.
    dispersion : ``"d3bj"`` (PBE-D3(BJ) added, needs ``dftd3``) or ``"none"`` (or ``None``);
        ``"default"``: d3bj for chgnet/sevennet, none for nequip.
    file : nequip only: deployed ``.pth`` (registry name, file name in
        ``$ZIFSIM_FORCEFIELD_DIR`` or path; default the ZIF-4 model).
    skin : nequip only: neighbour-list skin (Å) kept between calls.
    executor : nequip only: TorchScript executor, ``"legacy"`` or ``"profiling"``.
    """

    units = "metal"
    atom_style = "charge"   # same data files as ReaxFF; charges are ignored

    def __init__(self, model: str = "chgnet", version: str | None = None, device: str = "cpu",
                 threads: int = 1, cutoff: float = 6.0, fix_id: str = "zifsim_mlip",
                 dispersion: str | None = "default", file: str | None = None, skin: float = 1.0,
                 executor: str = "legacy"):
        if model not in MODELS:
            raise ConfigError(f"unknown MLIP model {model!r}", where="provider.model",
                              fix=f"use one of: {', '.join(MODELS)}")
        if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
            raise ConfigError(f"unknown device {device!r}", where="provider.device",
                              fix="use 'cpu' or 'cuda'")
        try:
            threads = int(threads)
            cutoff = float(cutoff)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"threads/cutoff must be numbers ({exc})", where="provider",
                              fix="e.g. threads: 2, cutoff: 6.0") from None
        if threads < 1 or cutoff <= 0:
            raise ConfigError("threads must be >= 1 and cutoff > 0 Å", where="provider",
                              fix="e.g. threads: 2, cutoff: 6.0")
        if model != "nequip" and file is not None:
            raise ConfigError(f"provider key 'file' is for model nequip, not {model}",
                              where="provider.file", fix="remove it, or set model: nequip")
        if dispersion == "default":
            dispersion = "none" if model == "nequip" else "d3bj"
        dispersion = str(dispersion or "none").lower()
        if dispersion not in DISPERSION:
            raise ConfigError(f"unknown dispersion correction {dispersion!r}",
                              where="provider.dispersion", fix="use 'd3bj' or 'none'")
        self.dispersion = dispersion
        self.model, self.device, self.threads, self.cutoff = model, str(device), threads, cutoff
        self.version = version or _DEFAULT_VERSION[model]
        self.fix_id = str(fix_id)
        self.file_spec, self.skin, self.executor = file, float(skin), str(executor)
        if model == "nequip":
            from zifsim.potentials.nequip import EXECUTORS
            if self.executor not in EXECUTORS:
                raise ConfigError(f"unknown TorchScript executor {executor!r}", where="provider.executor",
                                  fix=f"use one of {', '.join(EXECUTORS)}")
            if self.skin < 0:
                raise ConfigError(f"skin must be >= 0 Å, got {skin}", where="provider.skin",
                                  fix="e.g. skin: 1.0")
            self.version = self.version or Path(str(file or "nequip_l2r6stress0.pth")).stem
        self.name = f"mlip:{model}-{self.version}" + ("+d3bj" if dispersion == "d3bj" else "")
        self.bridge = None  # set by attach()

    # ------------------------------------------------------------------ config
    @classmethod
    def from_config(cls, spec: dict | None) -> "MLIPProvider":
        """Build from a config mapping (keys: model, version, device, threads, cutoff, fix_id,
        dispersion; for nequip also file, skin, executor)."""
        spec = dict(spec or {})
        spec.pop("kind", None)
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown MLIP provider key(s) {', '.join(unknown)}",
                              where="provider", fix=f"allowed keys: {', '.join(sorted(_KEYS))}")
        if spec.get("model", "chgnet") != "nequip":
            extra = sorted(set(spec) & set(_NEQUIP_ONLY))
            if extra:
                raise ConfigError(f"provider key(s) {', '.join(extra)} are for model nequip only",
                                  where="provider", fix="remove them, or set model: nequip")
        return cls(**spec)

    def _require(self) -> None:
        if not mlip_available(self.model):
            pkg = _PACKAGES[self.model]
            raise ForceFieldError(
                f"the MLIP model {self.model!r} needs the Python packages torch and {pkg}, "
                "which are not importable", where="provider.model",
                fix='install the extra: pip install -e ".[mlip]" (CPU torch pinned: '
                    "pip install torch==2.13.0 chgnet==0.4.2)")

    # ------------------------------------------------------------------ model
    @cached_property
    def calculator(self):
        """The ASE calculator: model (+ D3(BJ) when ``dispersion == "d3bj"``), loaded once."""
        calc = self.model_calculator
        if self.dispersion == "none":
            return calc
        try:
            from dftd3.ase import DFTD3
        except ImportError:
            raise ForceFieldError(
                "dispersion 'd3bj' needs the Python package dftd3, which is not importable",
                where="provider.dispersion",
                fix="pip install dftd3==1.7.0 (part of the [mlip] extra), or set dispersion: none") from None
        from ase.calculators.mixing import SumCalculator
        return SumCalculator([calc, DFTD3(method="PBE", damping="d3bj")])

    @cached_property
    def model_path(self) -> Path:
        """nequip: the deployed ``.pth`` found in ``$ZIFSIM_FORCEFIELD_DIR`` / registry / path."""
        from zifsim.potentials.nequip import resolve_model_file
        return resolve_model_file(self.file_spec or DEFAULT_NEQUIP)

    @cached_property
    def model_calculator(self):
        """The ASE calculator of the model alone (weights from the wheel, no dispersion)."""
        self._require()
        import torch
        torch.set_num_threads(self.threads)
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ForceFieldError(
                f"device {self.device!r} asked for, but torch {torch.__version__} sees no CUDA GPU",
                where="provider.device",
                fix="use device: cpu (--device cpu), or run on a GPU machine with a CUDA build of torch")
        if self.model == "nequip":
            from zifsim.potentials.nequip import DeployedModel, NequIPCalculator
            return NequIPCalculator(DeployedModel(self.model_path, device=self.device,
                                                  executor=self.executor), skin=self.skin)
        if self.model == "chgnet":
            from chgnet.model import CHGNet
            from chgnet.model.dynamics import CHGNetCalculator
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    net = CHGNet.load(model_name=self.version, use_device=self.device, verbose=False)
            except Exception as exc:
                raise ForceFieldError(f"cannot load CHGNet weights {self.version!r}: {exc}",
                                      where="provider.version",
                                      fix="use a version that ships in the wheel: 0.3.0, 0.2.0 or r2scan") from None
            with contextlib.redirect_stdout(io.StringIO()):
                return CHGNetCalculator(model=net, use_device=self.device, on_isolated_atoms="ignore")
        from sevenn.calculator import SevenNetCalculator
        try:
            return SevenNetCalculator(model=self.version, device=self.device)
        except Exception as exc:
            raise ForceFieldError(f"cannot load SevenNet model {self.version!r}: {exc}",
                                  where="provider.version",
                                  fix="use version 7net-0 (ships in the sevenn wheel)") from None

    @cached_property
    def elements(self) -> tuple[str, ...]:
        """Chemical symbols covered by the model's training set / embedding."""
        from ase.data import chemical_symbols
        if self.model == "nequip":  # from the file's metadata: no torch needed
            from zifsim.potentials.nequip import read_metadata
            return tuple(read_metadata(self.model_path)["type_names"].split())
        self._require()
        if self.model == "chgnet":
            calc = self.model_calculator
            nz = int(calc.model.atom_embedding.embedding.num_embeddings)  # one row per Z = 1..nz
            return tuple(chemical_symbols[1:nz + 1])
        calc = self.model_calculator
        species = getattr(calc, "type_map", None) or {}
        return tuple(sorted((chemical_symbols[int(z)] for z in species),
                            key=lambda s: chemical_symbols.index(s)))

    def weights_file(self) -> Path | None:
        """Path of the weights file inside the installed wheel (``None`` if unknown)."""
        if self.model == "nequip":
            return self.model_path
        if self.model == "chgnet":
            import chgnet
            folder = Path(chgnet.__file__).parent / "pretrained" / self.version
            files = sorted(folder.glob("*.pth.tar"))
            return files[0] if files else None
        try:  # sevenn: a checkpoint inside the wheel for the shipped models (7net-0)
            from sevenn.util import pretrained_name_to_path
            path = Path(pretrained_name_to_path(self.version))
        except Exception:
            return None
        return path if path.is_file() else None

    def check_elements(self, symbols, source: str | None = None) -> None:
        """Raise :class:`ForceFieldError` naming every element the model lacks and what to use."""
        missing = sorted(set(symbols) - set(self.elements))
        if not missing:
            return
        what = (f"the NequIP model {self.model_path.name} knows only {' '.join(self.elements)} "
                "(trained on ZIF-4, Zn(im)2)" if self.model == "nequip"
                else f"MLIP {self.name} covers {len(self.elements)} elements")
        raise ForceFieldError(
            f"{what}: no {', '.join(missing)} in it", source=source, where="provider.model",
            fix=f"run this cell with {_INSTEAD}" if self.model == "nequip"
            else "choose a model that covers these elements")

    # ------------------------------------------------------------------ LAMMPS
    def setup_commands(self, type_elements: Sequence[str]) -> list[str]:
        """``pair_style zero`` + ``fix external pf/callback``, energy and virial tallied.

        Issue after ``read_data`` and *before* the integrator fixes
        (``fix nvt/npt/nve``) so that the external forces are in place when
        the integrator's final half-step uses them.
        """
        self.check_elements(type_elements)
        return [
            f"pair_style zero {self.cutoff:g}",
            "pair_coeff * *",
            f"fix {self.fix_id} all external pf/callback 1 1",
            f"fix_modify {self.fix_id} energy yes virial yes",
        ]

    def attach(self, lmp: Any, type_elements: Sequence[str]) -> None:
        """Register the Python callback that evaluates the model for ``fix external``."""
        from zifsim.potentials.ase_bridge import ExternalBridge
        self.bridge = ExternalBridge(lmp, self.fix_id, self.calculator, type_elements)
        self.bridge.install()

    def raise_if_failed(self) -> None:
        """Raise :class:`~zifsim.errors.SimulationError` if the model failed in the last run.

        A Python exception in the ``fix external`` callback cannot cross LAMMPS; the
        bridge stops the run early and keeps it. Call this after every ``run``.
        """
        if self.bridge is not None:
            self.bridge.raise_if_failed()

    def metadata(self) -> dict[str, Any]:
        """Model, weights version and sha256, package versions, device, threads, citation."""
        def version(pkg):
            try:
                return importlib.metadata.version(pkg)
            except importlib.metadata.PackageNotFoundError:
                return None
        weights = self.weights_file() if mlip_available(self.model) else None
        sha = sha256_file(weights) if weights else None
        extra = {}
        if self.model == "nequip":
            from zifsim.potentials.nequip import model_record
            extra = {**model_record(weights, sha), "skin_A": self.skin, "executor": self.executor}
        return {
            "kind": "mlip", "name": self.name, "model": self.model,
            "model_version": self.version, "weights_file": weights.name if weights else None,
            "weights_sha256": sha,
            "package": _PACKAGES[self.model], "package_version": version(_PACKAGES[self.model]),
            "torch_version": version("torch"), "device": self.device, "threads": self.threads,
            "dispersion": self.dispersion,
            "dftd3_version": version("dftd3") if self.dispersion == "d3bj" else None,
            "units": self.units, "pair_cutoff_A": self.cutoff,
            "lammps_route": "fix external pf/callback (energy, forces, virial)",
            "citation": _CITATIONS[self.model] + (
                "; S. Grimme, S. Ehrlich, L. Goerigk, J. Comput. Chem. 32, 1456 (2011) [D3(BJ)]"
                if self.dispersion == "d3bj" else ""),
            **extra,
        }
