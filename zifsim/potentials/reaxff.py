"""ReaxFF parameter files as a :class:`~zifsim.potentials.base.ForceProvider`.

Parameter files are third-party data and are never shipped: they are found
by name in :func:`zifsim.settings.forcefield_dir` (``$ZIFSIM_FORCEFIELD_DIR``)
or given as a path. Known sets are identified by the sha256 of the file in
the registry ``zifsim/data/forcefields.yaml`` (element list, citation,
recommended control values, download address). An unregistered file still
runs, with a warning.

Example
-------
>>> provider = ReaxFFProvider.from_config({"file": "ffield_ZnN_2016"})  # doctest: +SKIP
>>> provider.check_elements(atoms.get_chemical_symbols())               # doctest: +SKIP
"""
from __future__ import annotations

import functools
import logging
import math
import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any, Sequence

import yaml

from zifsim import settings
from zifsim.errors import ConfigError, ForceFieldError
from zifsim.fileio import atomic_path, lammps_path, sha256_file
from zifsim.potentials.base import ForceProvider

log = logging.getLogger(__name__)

#: the registry of known parameter sets (shipped with the package)
REGISTRY_PATH = Path(__file__).resolve().parent.parent / "data" / "forcefields.yaml"
#: control-file keywords LAMMPS pair_style reaxff understands, with its defaults
CONTROL_DEFAULTS = {"nbrhood_cutoff": 5.0, "hbond_cutoff": 7.5, "bond_graph_cutoff": 0.3,
                    "thb_cutoff": 0.001, "thb_cutoff_sq": 0.00001, "tabulate_long_range": 0}
#: fix qeq/reaxff defaults (Nevery, cutlo Å, cuthi Å, tolerance, max CG iterations)
QEQ_DEFAULTS = {"nevery": 1, "cutlo": 0.0, "cuthi": 10.0, "tolerance": 1.0e-6, "maxiter": 200}
#: keys accepted in a provider spec (config ``provider:`` block)
SPEC_KEYS = ("file", "path", "control", "qeq", "safezone", "mincap", "minhbonds", "allow_unregistered")
QEQ_FIX_ID = "zs_qeq"
CONTROL_FILE_NAME = "reaxff.control"


class UnregisteredForceFieldWarning(UserWarning):
    """A ReaxFF file whose sha256 is not in the registry (provenance unknown)."""


@functools.lru_cache(maxsize=1)
def load_forcefield_registry() -> dict[str, dict[str, Any]]:
    """Known parameter sets by registry name (e.g. ``"ZnN_2016"``)."""
    try:
        data = yaml.safe_load(REGISTRY_PATH.read_text())
    except yaml.YAMLError as exc:  # pragma: no cover - shipped file
        raise ConfigError(f"cannot parse the force-field registry: {exc}", source=str(REGISTRY_PATH),
                          fix="repair the YAML syntax") from exc
    entries = (data or {}).get("forcefields", {})
    for name, entry in entries.items():
        entry.setdefault("name", name)
    return entries


def registry_entry(name_or_sha: str) -> dict[str, Any] | None:
    """Registry entry by name (``ZnN_2016`` or ``ffield_ZnN_2016``) or sha256; ``None`` if unknown."""
    for name, entry in load_forcefield_registry().items():
        if name_or_sha in (name, entry.get("file"), entry.get("sha256")):
            return entry
    return None



#: ReaxFF blocks after the atoms: (name, header lines after the count line, lines per entry,
#: index columns, numbers on each line (first line without the indices))
_FFIELD_BLOCKS = (("bonds", 1, 2, 2, (8, 8)), ("off-diagonal terms", 0, 1, 2, (6,)),
                  ("angles", 0, 1, 3, (7,)), ("torsions", 0, 1, 4, (7,)), ("hydrogen bonds", 0, 1, 3, (4,)))
FFIELD_CHECK_FIX = "the file is truncated or damaged: get the original (compare its sha256 with the source)"


def check_ffield(path: str | os.PathLike) -> dict[str, Any]:
    """Check the whole structure of a ReaxFF parameter file; return its element symbols and block sizes.

    Layout (the one LAMMPS ``pair_style reaxff`` reads): a title line; ``N ! general
    parameters`` and N lines; ``M ! Nr of atoms``, 3 header lines, 4 lines per atom (symbol +
    8 numbers, then 3 x 8 numbers); ``! Nr of bonds``, 1 header line, 2 lines per bond (2 type
    indices + 8 numbers, 8 numbers); off-diagonal terms (2 indices + 6), angles (3 + 7),
    torsions (4 + 7, index 0 = any type) and hydrogen bonds (3 + 4), one line each. Every
    declared count must be met and every number must parse (finite); a :class:`ForceFieldError`
    names the file, the line and what is wrong otherwise.
    """
    path = Path(path)
    lines = path.read_text(errors="replace").splitlines()
    src = str(path)

    def fail(index: int, message: str):
        raise ForceFieldError(message, source=src, where=index + 1, fix=FFIELD_CHECK_FIX)

    def count_at(index: int, what: str) -> int:
        if index >= len(lines):
            fail(index, f"file ends (after {len(lines)} lines) before the number of {what}")
        try:
            n = int(lines[index].split()[0])
        except (IndexError, ValueError):
            raise ForceFieldError(f"expected the number of {what} at the start of the line, "
                                  f"found {lines[index].strip()!r}", source=src, where=index + 1,
                                  fix="check that this is a ReaxFF parameter (ffield) file") from None
        if n < 0:
            fail(index, f"negative number of {what}: {n}")
        return n

    def numbers(index: int, n: int, what: str, skip: int = 0, n_types: int | None = None,
                wildcard: bool = False) -> list[str]:
        if index >= len(lines):
            fail(index, f"file ends (after {len(lines)} lines) inside the {what}")
        tokens = lines[index].split("!")[0].split()
        if len(tokens) < skip + n:
            fail(index, f"{what}: expected {skip + n} values, found {len(tokens)} ({lines[index].strip()!r})")
        for k, tok in enumerate(tokens[skip:skip + n] if n_types is None else tokens[:skip + n]):
            if n_types is not None and k < skip:
                try:
                    t = int(tok)
                except ValueError:
                    fail(index, f"{what}: type index {tok!r} is not an integer")
                if not (0 if wildcard else 1) <= t <= n_types:
                    fail(index, f"{what}: type index {t} outside 1..{n_types} (the atom block has {n_types} types)")
                continue
            try:
                ok = math.isfinite(float(tok))
            except ValueError:
                ok = False
            if not ok:
                fail(index, f"{what}: {tok!r} is not a finite number")
        return tokens

    n_general = count_at(1, "general parameters")
    for k in range(n_general):
        numbers(2 + k, 1, f"general parameter {k + 1} of {n_general}")
    atom_line = 2 + n_general
    n_atoms = count_at(atom_line, "atom types")
    symbols = []
    for k in range(n_atoms):
        first = atom_line + 4 + 4 * k
        if first >= len(lines) or not lines[first].split():
            fail(first, f"atom block truncated: declares {n_atoms} atom types, found {k}")
        symbols.append(numbers(first, 8, f"atom type {k + 1} of {n_atoms}", skip=1)[0])
        for j in range(1, 4):
            numbers(first + j, 8, f"atom type {k + 1} ({symbols[-1]}) line {j + 1}")
    index = atom_line + 4 + 4 * n_atoms
    counts = {"general": n_general, "atoms": n_atoms}
    for name, header, per, n_idx, per_line in _FFIELD_BLOCKS:
        n = count_at(index, name)
        counts[name] = n
        start = index + 1 + header
        for k in range(n):
            row = start + per * k
            if row >= len(lines) or not lines[row].strip():
                fail(row, f"{name} block truncated: declares {n} entries (line {index + 1}), found {k}")
            for j, n_num in enumerate(per_line):
                numbers(row + j, n_num, f"{name} entry {k + 1} of {n}", skip=n_idx if j == 0 else 0,
                        n_types=n_atoms if j == 0 else None, wildcard=name == "torsions")
        index = start + per * n
    extra = [i for i in range(index, len(lines)) if lines[i].split("!")[0].strip()]
    if extra:
        fail(extra[0], f"unexpected text after the last block ({lines[extra[0]].strip()[:60]!r}): "
                       "a block count is too small or the file was joined with another")
    return {"elements": tuple(symbols), "counts": counts}


def parse_ffield_elements(path: str | os.PathLike) -> tuple[str, ...]:
    """Element symbols of a ReaxFF parameter file, read from its atom block, after checking the
    whole file (:func:`check_ffield`)."""
    return check_ffield(path)["elements"]


def resolve_forcefield_file(name_or_path: str | os.PathLike) -> Path:
    """Path of a parameter file given as a path, a file name or a registry name.

    Names are looked up in :func:`zifsim.settings.forcefield_dir`.
    """
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    folder = settings.forcefield_dir()
    names = [str(name_or_path)]
    entry = registry_entry(str(name_or_path))
    if entry:
        names.append(entry["file"])
    for name in names:
        if (folder / name).is_file():
            return (folder / name).resolve()
    fetch = f"`zifsim forcefield fetch {entry['name']}`" if entry else "copy the file there"
    raise ForceFieldError(f"ReaxFF parameter file {name_or_path!r} not found "
                          f"(looked for {', '.join(names)} in {folder})",
                          source="provider.file",
                          fix=f"give a path with --forcefield, set ZIFSIM_FORCEFIELD_DIR, or {fetch}")


class ReaxFFProvider(ForceProvider):
    """A ReaxFF parameter file run by LAMMPS ``pair_style reaxff`` + ``fix qeq/reaxff``.

    Parameters
    ----------
    path : the ffield file.
    control : control-file values (overrides the registry's recommended ones).
    qeq : ``fix qeq/reaxff`` settings (nevery, cutlo Å, cuthi Å, tolerance, maxiter).
    safezone, mincap, minhbonds : memory-allocation factors of ``pair_style reaxff``.
    allow_unregistered : run a file whose sha256 is not in the registry (with a warning).
    """

    units = "real"
    atom_style = "charge"

    def __init__(self, path: str | os.PathLike, control: dict | None = None, qeq: dict | None = None,
                 safezone: float | None = None, mincap: int | None = None,
                 minhbonds: int | None = None, allow_unregistered: bool = True):
        self.path = Path(path).resolve()
        if not self.path.is_file():
            raise ForceFieldError(f"ReaxFF parameter file not found: {self.path}", source=str(self.path),
                                  fix="check the path, or set ZIFSIM_FORCEFIELD_DIR")
        self.sha256 = sha256_file(self.path)
        self.entry = registry_entry(self.sha256)
        self._elements = parse_ffield_elements(self.path)
        if self.entry is None:
            message = (f"ReaxFF file {self.path} (sha256 {self.sha256[:12]}...) is not in the zifsim "
                       f"registry: its provenance and recommended control values are unknown")
            if not allow_unregistered:
                raise ForceFieldError(message, source=str(self.path),
                                      fix="use a registered file (zifsim forcefield list) or allow_unregistered: true")
            warnings.warn(message, UnregisteredForceFieldWarning, stacklevel=2)
            log.warning(message)
        recommended = dict((self.entry or {}).get("control", {}))
        self.control = {**recommended, **(control or {})}
        unknown = sorted(set(self.control) - set(CONTROL_DEFAULTS))
        if unknown:
            raise ConfigError(f"unknown ReaxFF control keyword(s) {', '.join(unknown)}",
                              where="provider.control",
                              fix=f"use only {', '.join(CONTROL_DEFAULTS)}")
        self.qeq = {**QEQ_DEFAULTS, **(self.entry or {}).get("qeq", {}), **(qeq or {})}
        unknown = sorted(set(self.qeq) - set(QEQ_DEFAULTS))
        if unknown:
            raise ConfigError(f"unknown qeq setting(s) {', '.join(unknown)}", where="provider.qeq",
                              fix=f"use only {', '.join(QEQ_DEFAULTS)}")
        self.safezone, self.mincap, self.minhbonds = safezone, mincap, minhbonds
        label = self.entry["file"] if self.entry else self.path.name
        self.name = f"reaxff:{label}"
        self._control_file: Path | None = None

    # ------------------------------------------------------------------ config
    @classmethod
    def from_config(cls, spec: dict | None) -> "ReaxFFProvider":
        """Build from a config entry: ``{file: NAME|PATH, control: {...}, qeq: {...}}``.

        ``file`` defaults to the first registry entry (``ffield_ZnN_2016``).
        """
        spec = dict(spec or {})
        unknown = sorted(set(spec) - set(SPEC_KEYS))
        if unknown:
            raise ConfigError(f"unknown ReaxFF provider key(s) {', '.join(unknown)}",
                              where="provider", fix=f"allowed keys: {', '.join(SPEC_KEYS)}")
        target = spec.pop("file", None) or spec.pop("path", None)
        spec.pop("path", None)
        if target is None:
            target = next(iter(load_forcefield_registry().values()))["file"]
        for key in ("control", "qeq"):
            if spec.get(key) is not None and not isinstance(spec[key], dict):
                raise ConfigError(f"provider.{key} must be a mapping, got {spec[key]!r}",
                                  where=f"provider.{key}", fix="write it as key: value pairs")
        return cls(resolve_forcefield_file(target), **spec)

    # --------------------------------------------------------------- interface
    @property
    def elements(self) -> tuple[str, ...]:
        """Element symbols in the file's atom block (``X`` is a dummy type)."""
        return tuple(e for e in self._elements if e != "X")

    def check_elements(self, symbols, source: str | None = None) -> None:
        """Raise :class:`ForceFieldError` naming each element the file lacks, and what to do."""
        missing = sorted(set(symbols) - set(self.elements))
        if missing:
            raise ForceFieldError(
                f"ReaxFF file {self.path.name} has no parameters for element(s) "
                f"{', '.join(missing)}; it covers {' '.join(self.elements)}",
                source=source or str(self.path),
                fix=f"no ReaxFF set in the registry covers {', '.join(missing)}: run this cell with "
                    "--provider mlip (a universal MLIP), substitute the metal (e.g. Zn), or give "
                    "--forcefield PATH to a parameter file that has these elements")

    def prepare(self, workdir: str | os.PathLike) -> None:
        """Write the ReaxFF control file into ``workdir`` (called by the engine before setup)."""
        if not self.control:
            self._control_file = None
            return
        path = Path(workdir) / CONTROL_FILE_NAME
        text = "".join(f"{key} {value}\n" for key, value in self.control.items())
        if not path.exists() or path.read_text() != text:
            with atomic_path(path) as tmp:
                tmp.write_text(text)
        self._control_file = path

    def setup_commands(self, type_elements: Sequence[str]) -> list[str]:
        """``pair_style reaxff`` / ``pair_coeff`` / ``fix qeq/reaxff`` for types 1..n."""
        self.check_elements(type_elements)
        if self.control and self._control_file is None:
            import tempfile
            self.prepare(tempfile.mkdtemp(prefix="zifsim-reaxff-"))
        pair = f"pair_style reaxff {lammps_path(self._control_file, 'ReaxFF control file') if self._control_file else 'NULL'}"
        for key in ("safezone", "mincap", "minhbonds"):
            if getattr(self, key) is not None:
                pair += f" {key} {getattr(self, key)}"
        q = self.qeq
        return [pair,
                f"pair_coeff * * {lammps_path(self.path, 'provider.file')} {' '.join(type_elements)}",
                f"fix {QEQ_FIX_ID} all qeq/reaxff {int(q['nevery'])} {float(q['cutlo'])} "
                f"{float(q['cuthi'])} {float(q['tolerance'])} reaxff maxiter {int(q['maxiter'])}"]

    def failure_checks(self) -> list[tuple[str, str]]:
        """LAMMPS equal-style conditions that mean the model failed, with a message each."""
        return [(f"f_{QEQ_FIX_ID} >= {int(self.qeq['maxiter'])}",
                 f"charge equilibration (fix qeq/reaxff) did not converge in {self.qeq['maxiter']} "
                 "iterations: atoms too close or the cell exploded")]

    def output_commands(self, path: str | os.PathLike, every_steps: int) -> list[str]:
        """Optional output: the ReaxFF bond table (``fix reaxff/bonds``) written to ``path``."""
        return [f"fix zs_bonds all reaxff/bonds {int(every_steps)} {lammps_path(path, 'bond table')}"]

    def metadata(self) -> dict[str, Any]:
        """Provenance: file, sha256, registry name, citation, control and QEq values."""
        entry = self.entry or {}
        return {"kind": "reaxff", "name": self.name, "file": str(self.path), "sha256": self.sha256,
                "registered": bool(self.entry), "registry_name": entry.get("name"),
                "citation": entry.get("citation"), "source_url": entry.get("url"),
                "licence": entry.get("licence"), "elements": list(self.elements),
                "control": dict(self.control), "qeq": dict(self.qeq), "units": self.units}


# --------------------------------------------------------------------- fetch
#: largest download accepted (bytes) unless the registry entry gives ``max_bytes``: ReaxFF
#: parameter files are 20-100 kB, deployed NequIP models a few MB
MAX_FETCH_BYTES = 64 * 1024 * 1024


def _part_name(file: str, pid: int) -> str:
    return f".{file}.{pid}.part"


def remove_orphan_parts(dest_dir: Path, file: str) -> list[Path]:
    """Remove ``.FILE.PID.part`` downloads whose process is gone (left by a SIGKILL); return them."""
    removed = []
    for part in Path(dest_dir).glob(f".{file}.*.part"):
        pid = part.name[len(file) + 2:-len(".part")]
        try:
            os.kill(int(pid), 0)
            continue                      # a live download
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        part.unlink(missing_ok=True)
        removed.append(part)
        log.info("removed the orphan partial download %s (its process %s is gone)", part, pid)
    return removed


class _SignalExit(BaseException):
    """SIGTERM / SIGHUP during a download, raised so that the partial file is removed."""


def _raise_on_signal(signum, _frame):
    raise _SignalExit(signum)


def fetch_forcefield(name: str, url: str | None = None, dest_dir: str | os.PathLike | None = None,
                     timeout_s: float = 60.0, max_bytes: int | None = None) -> Path:
    """Download a registered parameter file and verify its sha256.

    Parameters
    ----------
    name : registry name (``ZnN_2016``) or file name (``ffield_ZnN_2016``).
    url : download address (default: the registry's public source); ``file://`` works.
    dest_dir : target folder (default :func:`zifsim.settings.forcefield_dir`).
    max_bytes : the download stops (and is refused) beyond this size (default: the entry's
        ``max_bytes`` or :data:`MAX_FETCH_BYTES`).

    The download goes to ``DEST/.FILE.PID.part``, which is removed on any exit (error,
    Ctrl-C, SIGTERM, SIGHUP); parts left by a killed (SIGKILL) fetch are removed by the next
    one. A failed download or a checksum mismatch leaves nothing behind.
    Returns the path of the verified file.
    """
    import signal
    import threading
    entry = registry_entry(name)
    if entry is None:
        known = ", ".join(load_forcefield_registry())
        raise ForceFieldError(f"unknown force field {name!r}", where="name",
                              fix=f"choose one of: {known}")
    dest_dir = Path(dest_dir).expanduser() if dest_dir else settings.forcefield_dir()
    dest = dest_dir / entry["file"]
    if dest_dir.is_dir():
        remove_orphan_parts(dest_dir, entry["file"])
    if dest.is_file() and sha256_file(dest) == entry["sha256"]:
        log.info("%s already present and verified: %s", entry["name"], dest)
        return dest
    url = url or entry["url"]
    max_bytes = int(max_bytes or entry.get("max_bytes") or MAX_FETCH_BYTES)
    log.info("downloading %s from %s", entry["name"], url)
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / _part_name(entry["file"], os.getpid())
    main_thread = threading.current_thread() is threading.main_thread()
    old = {s: signal.signal(s, _raise_on_signal) for s in (signal.SIGTERM, signal.SIGHUP)} if main_thread else {}
    try:
        try:
            size = 0
            with urllib.request.urlopen(url, timeout=timeout_s) as response, open(tmp, "wb") as out:
                while block := response.read(1 << 20):
                    size += len(block)
                    if size > max_bytes:
                        raise ForceFieldError(
                            f"download of {entry['name']} from {url} is larger than {max_bytes} bytes "
                            f"(more than the registered file can be): stopped, nothing was written", source=url,
                            fix="check that the address points at the parameter file itself")
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ForceFieldError(f"download of {entry['name']} from {url} failed: {exc}", source=url,
                                  fix="check the network or give --url to a mirror / local copy "
                                      "(file:///path/to/ffield)") from exc
        got = sha256_file(tmp)
        if got != entry["sha256"]:
            raise ForceFieldError(f"checksum mismatch for {entry['name']} from {url}: sha256 {got}, "
                                  f"expected {entry['sha256']}; nothing was written", source=url,
                                  fix="the source changed or is corrupt: get the original file "
                                      "(see the registry citation) and give it with --url file://...")
        os.replace(tmp, dest)
    except _SignalExit as exc:
        sig = signal.Signals(exc.args[0])
        err = ForceFieldError(f"download of {entry['name']} stopped by {sig.name}; nothing was written",
                              source=url, fix="run the fetch again")
        err.exit_code = 128 + int(sig)
        raise err from None
    finally:
        tmp.unlink(missing_ok=True)
        for s, h in old.items():
            signal.signal(s, h)
    return dest


def list_forcefields(folder: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Registry entries with their local state: present, path, checksum verified."""
    folder = Path(folder).expanduser() if folder else settings.forcefield_dir()
    rows = []
    for name, entry in load_forcefield_registry().items():
        path = folder / entry["file"]
        present = path.is_file()
        rows.append({"name": name, "file": entry["file"], "elements": " ".join(entry["elements"]),
                     "present": present, "path": str(path),
                     "verified": present and sha256_file(path) == entry["sha256"],
                     "citation": " ".join(str(entry.get("citation", "")).split())})
    return rows
