"""Shared pytest fixtures: paths to third-party data, with clean skips when absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests run LAMMPS in-process on a 2-core machine: one OpenMP thread unless asked.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from zifsim import settings  # noqa: E402

ZNN_2016 = "ffield_ZnN_2016"


@pytest.fixture(scope="session")
def forcefield_dir() -> Path:
    """Folder with ReaxFF parameter files; skips the test when it is missing."""
    path = settings.forcefield_dir()
    if not (path / ZNN_2016).is_file():
        pytest.skip(f"ReaxFF parameter file {ZNN_2016} not found in {path} "
                    "(set ZIFSIM_FORCEFIELD_DIR or place ../shared/forcefields beside the checkout)")
    return path


@pytest.fixture(scope="session")
def znn_ffield(forcefield_dir) -> Path:
    """Path of ffield_ZnN_2016 (Yang et al. 2018); skips when absent."""
    return forcefield_dir / ZNN_2016


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Folder of third-party reference structures; skips the test when missing."""
    path = settings.reference_dir()
    if not (path / "structures").is_dir():
        pytest.skip(f"reference structures not found in {path} "
                    "(set ZIFSIM_REFERENCE_DIR or place ../shared/reference beside the checkout)")
    return path


from zifsim.potentials.base import ForceProvider  # noqa: E402


class SoftProvider(ForceProvider):
    """A fast stand-in force model for engine plumbing tests (lock, signals, paths): LAMMPS
    ``pair_style soft`` (a gentle cosine repulsion, 1.5 Å cutoff) for every element, real units.
    Not physics: ReaxFF on the same cell runs ~1000 times slower."""

    name, units, atom_style = "test:soft", "real", "charge"
    elements = ("C", "H", "N", "O", "Zn", "Cu", "Co", "Cd")

    def setup_commands(self, type_elements):
        return ["pair_style soft 1.5", "pair_coeff * * 2.0"]

    def metadata(self):
        return {"kind": "test-soft", "name": self.name}


@pytest.fixture
def soft_provider():
    """A :class:`SoftProvider` instance (fast, not physics)."""
    return SoftProvider()


NEQUIP_ZIF4 = "nequip_l2r6stress0.pth"


@pytest.fixture(scope="session")
def nequip_zif4_file() -> Path:
    """The deployed NequIP ZIF-4 model (Castel et al. 2024); skips when absent."""
    path = settings.forcefield_dir() / NEQUIP_ZIF4
    if not path.is_file():
        pytest.skip(f"deployed NequIP model {NEQUIP_ZIF4} not found in {settings.forcefield_dir()} "
                    "(set ZIFSIM_FORCEFIELD_DIR, or `zifsim forcefield fetch NequIP_ZIF4`)")
    return path


# ------------------------------------------------------------------ shared helpers as fixtures
# (no test module imports another: what several modules need lives here)
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def zif4_unit_cell():
    """ZIF-4 unit cell (272 atoms, ase.Atoms) from the registry; copy it before changing it."""
    from zifsim.structures import build_material
    return build_material("ZIF-4").atoms


@pytest.fixture(scope="session")
def relaxed_zif4_data(znn_ffield, zif4_unit_cell, tmp_path_factory) -> Path:
    """LAMMPS data file of the ZIF-4 cell minimised with ReaxFF (atoms, then box), once per session."""
    from zifsim.engine import run_protocol
    relax = {"name": "relax_for_tests", "stages": [
        {"name": "relax", "type": "minimise", "box_relax": "iso", "max_iter": 60, "ftol_eV_per_A": 0.01}]}
    out = tmp_path_factory.mktemp("relaxed-zif4")
    run_protocol(zif4_unit_cell, relax, {"kind": "reaxff", "file": str(znn_ffield)}, out, seed=1)
    return out / "00-relax" / "final.data"


def _md_protocol(*stages: dict, **defaults) -> dict:
    base = {"timestep_fs": 0.25, "tdamp_fs": 25, "pdamp_fs": 250, "thermo_every_fs": 2.5,
            "dump_every_fs": 12.5, "checkpoint_every_ps": 0.0125}
    base.update(defaults)
    return {"name": "test", "defaults": base, "stages": list(stages)}


def _every_stage_protocol(name: str, *, step_ps: float = 0.002, relax_iter: int = 5,
                          relax_ftol: float = 0.05, strain: float = 0.02, rate_per_ps: float = 10.0,
                          **defaults) -> dict:
    """One stage of every engine type (minimise + box, NVT, NPT ramp, shear, compress), a
    handful of 0.5 fs steps each: a smoke protocol for an MLIP provider (not physics)."""
    base = {"timestep_fs": 0.5, "tdamp_fs": 25, "pdamp_fs": 250, "thermo_every_fs": 1.0,
            "dump_every_fs": 2.0, "checkpoint_every_ps": 0.002}
    base.update(defaults)
    return {"name": name, "description": f"{name}: each engine stage type for a few steps (not physics)",
            "defaults": base, "stages": [
                {"name": "relax", "type": "minimise", "box_relax": "iso", "max_iter": relax_iter,
                 "ftol_eV_per_A": relax_ftol},
                {"name": "nvt", "type": "equilibrate", "ensemble": "nvt", "temperature_K": 300,
                 "duration_ps": step_ps},
                {"name": "heat", "type": "ramp", "ensemble": "npt", "barostat": "iso", "pressure_bar": 0,
                 "T_start_K": 300, "T_stop_K": 400, "duration_ps": 0.002},
                {"name": "shear", "type": "shear", "plane": "xy", "mode": "cyclic", "strain_amplitude": 0.02,
                 "period_ps": 0.002, "cycles": 1, "temperature_K": 300},
                {"name": "hydro", "type": "compress", "mode": "hydrostatic", "strain_amplitude": strain,
                 "strain_rate_per_ps": rate_per_ps, "cycles": 1, "temperature_K": 300}]}


@pytest.fixture(scope="session")
def every_stage_protocol():
    """``every_stage_protocol(name, step_ps=, relax_iter=, relax_ftol=, strain=, rate_per_ps=,
    **defaults)``: see :func:`_every_stage_protocol`."""
    return _every_stage_protocol


@pytest.fixture(scope="session")
def md_protocol():
    """``md_protocol(*stages, **defaults)``: a protocol dict with test-sized output intervals
    (0.25 fs steps)."""
    return _md_protocol


def _snakemake(*args, cwd: Path, env: dict | None = None, timeout: float = 600,
               check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(cwd), *args]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def snakemake():
    """``snakemake(*args, cwd=..., env=None, timeout=600, check=True)``: run
    ``python -m snakemake -s <repo>/Snakefile -d cwd *args``; return the process."""
    return _snakemake


def _job_counts(output: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            if set(line.strip()) <= {"-", " "}:
                continue
            m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
            if not m:
                break
            if m.group(1) != "total":
                counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="session")
def job_counts():
    """``job_counts(output)``: the 'Job stats' table of a Snakemake (dry) run as {rule: count}."""
    return _job_counts


#: expected jobs of each shipped workflow config: materials x protocols x replicas
EXPECTED_JOBS = {
    "config.yaml": {"build_cell": 2, "runspec": 4, "md": 4, "analyse_run": 4, "report": 1,
                    "run_table": 1, "all": 1},
    "test.yaml": {"build_cell": 1, "runspec": 1, "md": 1, "analyse_run": 1, "report": 1,
                  "run_table": 1, "all": 1},
    "production.yaml": {"build_cell": 1, "runspec": 3, "md": 3, "analyse_run": 3, "report": 1,
                        "run_table": 1, "all": 1},
    "analysis_only.yaml": {"analyse_imported": 1, "report": 1, "run_table": 1, "all": 1},
}


@pytest.fixture(scope="session")
def expected_jobs() -> dict:
    """{config file name: {rule: job count}} of the shipped workflow configs."""
    return json.loads(json.dumps(EXPECTED_JOBS))


def _write_ffield(path: Path, elements=("C", "H", "O", "N", "Zn")) -> Path:
    row = " ".join(["1.0000"] * 8)
    lines = ["Reactive MD-force field: test stand-in (layout only, no real numbers)",
             "2       ! Number of general parameters", "50.0000 !p(boc1)", "9.5469 !p(boc2)",
             f"{len(elements)}    ! Nr of atoms; cov.r; valency;a.m;Rvdw;Epsilon;gamma;cov.r2;#",
             "            alfa;gammavdW;valency;Epsilon;Rvdw;cov.r2",
             "            cov r3;Elp;Heat inc.;13BO1;13BO2;13BO3",
             "            ov/un;val1;n.u.;val3,vval4"]
    for el in elements:
        lines += [f" {el} {row}", f"   {row}", f"   {row}", f"   {row}"]
    lines += ["0      ! Nr of bonds; Edis1;LPpen;n.u.;pbe1;pboc4;pboc3;pboc5;n.u.",
              "                      pbe2;pbo3;pbo4;n.u.;pbo1;pbo2;ovcorr",
              "0    ! Nr of off-diagonal terms", "0    ! Nr of angles", "0    ! Nr of torsions",
              "0    ! Nr of hydrogen bonds"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def write_ffield():
    """``write_ffield(path, elements=(C, H, O, N, Zn))``: a minimal ReaxFF file whose atom
    block names ``elements`` (layout only, no real numbers)."""
    return _write_ffield


@pytest.fixture()
def ff_dir(tmp_path, monkeypatch) -> Path:
    """An empty $ZIFSIM_FORCEFIELD_DIR; the MLIP counts as installed."""
    from zifsim.potentials import choice
    folder = tmp_path / "forcefields"
    folder.mkdir()
    monkeypatch.setenv("ZIFSIM_FORCEFIELD_DIR", str(folder))
    monkeypatch.setattr(choice, "mlip_installed", lambda model="chgnet": True)
    return folder


@pytest.fixture(scope="session")
def mlip_relaxer():
    """The MLIP (CHGNet 0.3.0 + D3, 1 torch thread) that relaxes net-built and substituted
    cells; skips when the [mlip] extra is not installed."""
    from zifsim.potentials.mlip import MLIPProvider, mlip_available
    if not mlip_available("chgnet"):
        pytest.skip('chgnet/torch not importable: pip install -e ".[mlip]"')
    pytest.importorskip("dftd3", reason="D3 dispersion needs dftd3 (pip install dftd3==1.7.0)")
    import torch
    torch.set_num_threads(1)
    return MLIPProvider(threads=1)
