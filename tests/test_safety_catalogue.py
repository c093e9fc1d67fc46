"""Catalogue of hostile inputs and faults (issue 15): each case asserts the message, the exit
code, that no partial or corrupt output is left and that finished results are unchanged.

Fast by design: refusals happen before LAMMPS starts; the one finished run the resume cases
need is made with the `SoftProvider` of conftest.py (pair_style soft, seconds); analyses run
on small synthetic run directories. Kill / concurrency cases are in test_safety_run.py, the
structure-file catalogue of `zifsim build` in test_structures_badinput.py.
"""
from __future__ import annotations

import errno
import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import SoftProvider
from zifsim.cli import main

REPO = Path(__file__).resolve().parent.parent
CELL = REPO / "structures" / "ZIF-Cu-1" / "cell.extxyz"          # 102 atoms, committed
CIF_BASE = """data_t
_cell_length_a 10.0
_cell_length_b 10.0
_cell_length_c 10.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Zn1 Zn 0.10 0.10 0.10
N1 N 0.30 0.10 0.10
"""


def snapshot(folder: Path) -> dict:
    """{relative path: (sha256, mtime_ns)} of every file under ``folder`` (empty if absent)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(argv, capsys) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def assert_refused(rc, err, command, *patterns, code=1):
    assert rc == code, err
    assert err.startswith(f"zifsim {command}: error: "), err
    assert "Traceback" not in err
    for pat in patterns:
        assert pat in err, (pat, err)


@pytest.fixture
def soft(monkeypatch):
    """`zifsim run` in-process with the fast SoftProvider whatever --provider says."""
    import zifsim.engine.run as engine_run
    monkeypatch.setattr(engine_run, "get_provider", lambda spec: SoftProvider())


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A complete run of the tiny protocol (soft model), seed 3."""
    from zifsim.engine import read_cell, run_protocol
    out = tmp_path_factory.mktemp("finished") / "run"
    assert run_protocol(read_cell(CELL), "tiny", SoftProvider(), out, seed=3)["status"] == "complete"
    return out


def protocol_file(tmp_path, stage_extra: dict, name="p") -> Path:
    stage = {"name": "nvt", "type": "equilibrate", "ensemble": "nvt", "temperature_K": 300,
             "duration_ps": 0.01, **stage_extra}
    path = tmp_path / f"{name}.yaml"           # the stage on line 3, as in configs/protocols
    flow = yaml.safe_dump(stage, default_flow_style=True, sort_keys=False, width=1000).strip()
    path.write_text(f"name: {name}\nstages:\n  - {flow}\n")
    return path


# ------------------------------------------------------------------ zifsim run: paths and inputs
@pytest.mark.parametrize("name,pattern", [("run*1", "'*'"), ("per%cent", "'%'")])
def test_run_out_with_lammps_wildcard_refused_up_front(name, pattern, tmp_path, capsys, soft):
    out = tmp_path / name
    rc, err = cli(["run", CELL, "--protocol", "tiny", "--out", out], capsys)
    assert_refused(rc, err, "run", "--out: the path", pattern, "which LAMMPS cannot take in a file name",
                   "fix: choose a folder / file name without")
    assert not out.exists()


def test_run_out_is_an_existing_file(tmp_path, capsys, soft):
    out = tmp_path / "taken"
    out.write_text("keep me\n")
    rc, err = cli(["run", CELL, "--protocol", "tiny", "--out", out], capsys)
    assert_refused(rc, err, "run", f"output folder {out} is an existing file, not a folder")
    assert out.read_text() == "keep me\n"


@pytest.mark.parametrize("kind,pattern", [("dir", "cell file is a directory, not a file"),
                                          ("loop", "cell file is a symbolic link loop"),
                                          ("dev", "cell file is not a regular file (a device, pipe or socket)"),
                                          ("missing", "cell file not found")])
def test_run_cell_that_is_not_a_file(kind, pattern, tmp_path, capsys, soft):
    cell = {"dir": tmp_path, "dev": Path("/dev/zero"), "missing": tmp_path / "nope.extxyz"}.get(kind)
    if kind == "loop":
        cell = tmp_path / "loop.extxyz"
        os.symlink(cell, cell)
    out = tmp_path / "out"
    rc, err = cli(["run", cell, "--protocol", "tiny", "--out", out], capsys)
    assert_refused(rc, err, "run", pattern)
    assert not out.exists()


def test_run_h_on_a_metal_named_before_the_minimiser(tmp_path, capsys, soft):
    import ase.io
    atoms = ase.io.read(CELL)
    cu = atoms.get_chemical_symbols().index("Cu")
    atoms.append("H")
    atoms.positions[-1] = atoms.positions[cu]
    bad = tmp_path / "h_on_cu.extxyz"
    ase.io.write(bad, atoms)
    out = tmp_path / "out"
    rc, err = cli(["run", bad, "--protocol", "tiny", "--out", out], capsys)
    assert_refused(rc, err, "run", "1 pair(s) of atoms closer than 0.5 Å", f"Cu{cu + 1} and H{len(atoms)} (0.00 Å)")
    assert not out.exists()


# -------------------------------------------------------------- zifsim run: protocol values
@pytest.mark.parametrize("extra,patterns", [
    ({"duration_ps": float("inf")}, ["(line 3: stages[0].duration_ps)", "duration_ps must be a finite number, got inf"]),
    ({"temperature_K": -300}, ["(line 3: stages[0].temperature_K)", "temperature_K = -300.0 K is not a temperature",
                               "above 0 and at most 10000 K"]),
    ({"temperature_K": float("nan")}, ["temperature_K must be a finite number, got nan"]),
    ({"pressure_bar": 1e9, "ensemble": "npt"}, ["pressure_bar = 1000000000.0 bar is beyond 1e+06 bar"]),
    ({"timestep_fs": 20}, ["timestep_fs = 20.0 fs is above 5 fs", "0.1-0.5 fs for ReaxFF"]),
    ({"timestep_fs": 1e-4}, ["timestep_fs = 0.0001 fs is below 0.01 fs"]),
    ({"timestep_fs": 0.02, "duration_ps": 1e5}, ["(line 3: stages[0].duration_ps)",
                                                 "100000 ps at timestep_fs 0.02 fs needs 5e+09 steps",
                                                 "shorten the stage", "a larger timestep_fs"]),
    ({"checkpoint_every_ps": 1e-5, "duration_ps": 100}, ["checkpoint_every_ps = 1e-05 ps gives 4e+05 checkpoints"]),
], ids=["inf_duration", "negative_T", "nan_T", "huge_pressure", "timestep_20fs", "timestep_tiny",
        "too_many_steps", "too_many_checkpoints"])
def test_run_protocol_values_checked_at_load(extra, patterns, tmp_path, capsys, soft):
    proto = protocol_file(tmp_path, extra)
    out = tmp_path / "out"
    rc, err = cli(["run", CELL, "--protocol", proto, "--out", out], capsys)
    assert_refused(rc, err, "run", str(proto), *patterns)
    assert not out.exists()


# ---------------------------------------------------------------- zifsim run: refused resume
@pytest.mark.parametrize("change", ["protocol", "seed"])
def test_refused_resume_changes_nothing(change, finished_run, tmp_path, capsys, soft):
    before = snapshot(finished_run)
    meta_text = (finished_run / "metadata.json").read_text()
    args = ["run", CELL, "--out", finished_run]
    if change == "protocol":
        tiny = yaml.safe_load((REPO / "configs" / "protocols" / "tiny.yaml").read_text())
        tiny["stages"][1]["temperature_K"] = 350
        proto = tmp_path / "tiny.yaml"
        proto.write_text(yaml.safe_dump(tiny))
        args += ["--protocol", proto, "--seed", "3"]
        patterns = ["stage 01-nvt was run with other settings than the protocol now gives"]
    else:
        args += ["--protocol", "tiny", "--seed", "4"]
        patterns = [f"{finished_run} was started with seed 3, not 4", "fix: resume with --seed 3"]
    rc, err = cli(args, capsys)
    assert_refused(rc, err, "run", *patterns)
    assert snapshot(finished_run) == before                   # byte for byte, not even touched
    assert (finished_run / "metadata.json").read_text() == meta_text
    assert json.loads(meta_text)["status"] == "complete"


# -------------------------------------------------------------------- ReaxFF parameter files
@pytest.mark.parametrize("cut,patterns", [
    (400, ["(line 401): torsions block truncated: declares 70 entries (line 373), found 27"]),
    (150, ["(line 151): file ends (after 150 lines) inside the bonds entry 28 of 51"]),
    ("text", ["(line 51): atom type 2 (H) line 2: 'x.y' is not a finite number"]),
    ("index", ["(line 96): bonds entry 1 of 51: type index 13 outside 1..12"]),
], ids=["cut_at_400", "cut_at_150", "non_number", "bad_type_index"])
def test_damaged_reaxff_file_refused_before_lammps(cut, patterns, znn_ffield, tmp_path, capsys):
    lines = znn_ffield.read_text().splitlines(keepends=True)
    if cut == "text":
        lines[50] = lines[50].replace("8.2230", "x.y", 1)
    elif cut == "index":
        lines[95] = "  1 13" + lines[95][6:]
    else:
        lines = lines[:cut]
    bad = tmp_path / "ffield_damaged"
    bad.write_text("".join(lines))
    out = tmp_path / "out"
    rc, err = cli(["run", CELL, "--protocol", "tiny", "--out", out, "--forcefield", bad], capsys)
    assert_refused(rc, err, "run", f"{bad} ", *patterns, "the file is truncated or damaged")
    assert not out.exists()


def test_whole_reaxff_file_passes(znn_ffield):
    from zifsim.potentials.reaxff import check_ffield
    got = check_ffield(znn_ffield)
    assert got["counts"] == {"general": 39, "atoms": 12, "bonds": 51, "off-diagonal terms": 31, "angles": 142,
                             "torsions": 70, "hydrogen bonds": 11}
    assert "Zn" in got["elements"]


# ----------------------------------------------------------------------- zifsim build: CIFs
@pytest.mark.parametrize("edit,patterns", [
    (("_cell_length_c 10.0", "_cell_length_c 0"), ["(line 4): _cell_length_c = 0 Å: a cell length must be positive"]),
    (("_cell_length_a 10.0", "_cell_length_a -10.0"), ["(line 2): _cell_length_a = -10 Å: a cell length must be positive"]),
    (("_cell_angle_gamma 90", "_cell_angle_gamma 200"), ["_cell_angle_gamma = 200°: a cell angle must lie between"]),
    (("_cell_angle_alpha 90", "_cell_angle_alpha 170", "_cell_angle_beta 90", "_cell_angle_beta 170"),
     ["do not make a cell"]),
    (("N1 N 0.30", "N2 N 0.10 0.10 0.10\nN1 N 0.30"),
     ["1 pair(s) of sites of different elements lie at one position", "Zn1 (Zn) and N2 (N)"]),
    (("'P 1'", "'P -1'", "N1 N 0.30 0.10 0.10", "N1 N 0.30 0.10 0.10\nN2 N 0.90 0.90 0.90"),
     ["(after the symmetry operations): Zn1 (Zn) and N2 (N)"]),
], ids=["c_zero", "a_negative", "angle_200", "angles_no_cell", "N_on_Zn_site", "N_on_Zn_by_symmetry"])
def test_bad_cif_says_what_is_wrong(edit, patterns, tmp_path, capsys):
    text = CIF_BASE
    for a, b in zip(edit[::2], edit[1::2]):
        assert a in text
        text = text.replace(a, b)
    cif = tmp_path / "bad.cif"
    cif.write_text(text)
    out = tmp_path / "out"
    rc, err = cli(["build", cif, "--out", out], capsys)
    assert_refused(rc, err, "build", str(cif), *patterns)
    assert not out.exists()


def test_duplicate_atom_is_reported_and_kept_once(tmp_path, caplog):
    from zifsim.structures import read_structure
    cif = tmp_path / "dup.cif"
    cif.write_text(CIF_BASE + "Zn2 Zn 0.10 0.10 0.10\n")
    with caplog.at_level("WARNING", logger="zifsim.structures"):
        atoms = read_structure(cif)
    assert len(atoms) == 2
    assert "1 duplicate site(s) (the same element at one position) kept once: Zn1 = Zn2" in caplog.text


@pytest.mark.parametrize("kind,pattern", [("dir", "structure file is a directory, not a file"),
                                          ("loop", "structure file is a symbolic link loop"),
                                          ("dev", "structure file is not a regular file")])
def test_build_input_that_is_not_a_file(kind, pattern, tmp_path, capsys):
    src = {"dir": tmp_path / "d.cif", "dev": Path("/dev/zero")}.get(kind)
    if kind == "dir":
        src.mkdir()
    if kind == "loop":
        src = tmp_path / "loop"
        os.symlink(src, src)
    rc, err = cli(["build", src, "--out", tmp_path / "out"], capsys)
    assert_refused(rc, err, "build", pattern)
    assert not (tmp_path / "out").exists()


def test_build_out_is_an_existing_file(tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("keep me\n")
    rc, err = cli(["build", REPO / "structures" / "ZIF-Cu-1" / "cell.cif", "--out", out], capsys)
    assert_refused(rc, err, "build", f"output folder {out} is an existing file, not a folder")
    assert out.read_text() == "keep me\n"


def test_disk_full_is_one_line_and_keeps_finished_files(tmp_path, capsys, monkeypatch):
    src = REPO / "structures" / "ZIF-Cu-1" / "cell.cif"
    out = tmp_path / "cell"
    assert main(["build", str(src), "--out", str(out)]) == 0
    before = snapshot(out)
    capsys.readouterr()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    rc, err = cli(["build", src, "--out", out], capsys)
    assert_refused(rc, err, "build", "No space left on device", "fix: free disk space")
    assert len(err.strip().splitlines()) == 2                  # the error line + its fix
    assert snapshot(out) == before                             # atomic writes: the old cell is intact
    assert not list(out.glob(".*.part"))


def test_large_p1_cif_builds_fast(tmp_path, capsys):
    """A 2 176-atom P1 CIF (2x2x2 ZIF-4) took 62 s in ASE's orbit search; the P1 path skips it."""
    import ase.io
    from zifsim.structures.io import cif_text
    cif = tmp_path / "big.cif"
    cif.write_text(cif_text(ase.io.read(REPO / "structures" / "ZIF-4" / "cell.extxyz") * (2, 2, 2), "big"))
    t0 = time.process_time()          # CPU seconds of this process: the same on a loaded machine
    rc = main(["build", str(cif), "--out", str(tmp_path / "out")])
    took = time.process_time() - t0
    print(f"2176-atom P1 CIF built in {took:.1f} CPU s")
    assert rc == 0 and took < 30
    assert json.loads((tmp_path / "out" / "validation.json").read_text())["passed"]
    assert (tmp_path / "out" / "cell.data").read_text().splitlines()[2] == "2176 atoms"


# ------------------------------------------------------------------------- zifsim analyse
@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory) -> Path:
    from zifsim.analysis.synthetic import write_synthetic_run, zif4_crystal
    root = tmp_path_factory.mktemp("syn") / "runs" / "ZIF-4" / "synthetic" / "rep1"
    return write_synthetic_run(root, zif4_crystal(), [("heat", 300, 1500), ("quench", 1500, 300)],
                               frames_per_stage=4, sigma_per_sqrtK=0.008, seed=1)


@pytest.fixture(scope="module")
def analysed(synthetic_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("adir") / "adir"
    assert main(["analyse", str(synthetic_run), "--out", str(out), "--no-progress", "--no-pores"]) == 0
    return out


def broken_copy(src: Path, tmp_path: Path, how: str) -> Path:
    run = tmp_path / "run"
    shutil.copytree(src, run)
    traj = run / "00-heat" / "traj.lammpstrj"
    lines = traj.read_text().splitlines(keepends=True)
    atoms_at = [i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS")]
    if how == "failed":
        meta = json.loads((run / "metadata.json").read_text())
        meta["status"], meta["stages"][1]["status"] = "failed", "failed"
        (run / "metadata.json").write_text(json.dumps(meta))
        (run / "01-quench" / "metadata.json").write_text(json.dumps(
            {"status": "failed", "error": "temperature runaway above 3000 K"}))
    elif how == "empty":
        (run / "01-quench" / "traj.lammpstrj").write_text("")
    elif how == "lost":
        (run / "01-quench" / "traj.lammpstrj").unlink()
    elif how == "nan":
        parts = lines[atoms_at[2] + 5].split()
        parts[3] = "nan"
        lines[atoms_at[2] + 5] = " ".join(parts) + "\n"
    elif how == "fewer":
        del lines[atoms_at[2] + 7]
        lines[atoms_at[2] - 5] = f"{int(lines[atoms_at[2] - 5]) - 1}\n"
    elif how == "missing_line":
        del lines[atoms_at[2] + 7]
    traj.write_text("".join(lines))
    return run


@pytest.mark.parametrize("how,patterns", [
    ("failed", ["metadata.json (status): the run is failed (stage 01-quench failed: temperature runaway above "
                "3000 K)", "--allow-incomplete"]),
    ("empty", ["01-quench/traj.lammpstrj: stage 01-quench (status complete): its trajectory has no frames"]),
    ("lost", ["01-quench/traj.lammpstrj: stage 01-quench (status complete): its trajectory is missing"]),
    ("nan", ["00-heat/traj.lammpstrj (frame 2, step 200): 1 atom(s) with a NaN / infinite coordinate (ids 5)"]),
    ("fewer", ["00-heat/traj.lammpstrj (frame 2, step 200): the frame has 271 atoms, the first frame 272"]),
    ("missing_line", ["00-heat/traj.lammpstrj (line 572): malformed atom lines in the frame of step 200"]),
], ids=["failed_run", "empty_stage", "lost_stage", "nan_coordinate", "frame_missing_atoms", "frame_missing_line"])
def test_analyse_refuses_broken_run(how, patterns, synthetic_run, tmp_path, capsys):
    run = broken_copy(synthetic_run, tmp_path, how)
    out = tmp_path / "adir"
    rc, err = cli(["analyse", run, "--out", out, "--no-progress", "--no-pores"], capsys)
    assert_refused(rc, err, "analyse", *patterns)
    assert not out.exists()


def test_refused_reanalysis_keeps_the_finished_analysis(analysed, synthetic_run, tmp_path, capsys):
    run = broken_copy(synthetic_run, tmp_path, "nan")
    before = snapshot(analysed)
    rc, err = cli(["analyse", run, "--out", analysed, "--no-progress", "--no-pores"], capsys)
    assert_refused(rc, err, "analyse", "NaN / infinite coordinate")
    assert snapshot(analysed) == before
    assert not list(analysed.glob(".partial-*"))


def test_reanalysis_killed_midway_leaves_the_old_one_whole(analysed, synthetic_run, capsys, monkeypatch):
    """A failure (or kill) after some new tables are written: the old summary.json and every old
    table stay as they were; nothing new is mixed in."""
    import zifsim.analysis.plots as plots
    before = snapshot(analysed)

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(plots, "plot_xray", boom)             # after coordination/rdf tables exist
    rc, err = cli(["analyse", synthetic_run, "--out", analysed, "--no-progress", "--no-pores"], capsys)
    assert rc == 130 and "zifsim analyse: interrupted (Ctrl-C); finished outputs are intact" in err
    assert snapshot(analysed) == before
    assert not list(analysed.glob(".partial-*"))


def test_leftover_of_a_killed_analysis_is_cleaned(analysed, synthetic_run, tmp_path, capsys):
    out = tmp_path / "adir"
    shutil.copytree(analysed, out)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = out / f".partial-{dead.pid}-x"
    leftover.mkdir()
    (leftover / "coordination.csv").write_text("half\n")
    (out / "stale_from_old_version.csv").write_text("x\n")
    summary = json.loads((out / "summary.json").read_text())
    summary["outputs"].append("stale_from_old_version.csv")
    (out / "summary.json").write_text(json.dumps(summary))
    assert main(["analyse", str(synthetic_run), "--out", str(out), "--no-progress", "--no-pores"]) == 0
    assert not leftover.exists() and not (out / "stale_from_old_version.csv").exists()
    new = json.loads((out / "summary.json").read_text())
    assert new["run_status"] == "complete" and set(new["outputs"]) == {p.name for p in out.iterdir()}


def test_failed_run_analysed_on_request_carries_its_status(synthetic_run, analysed, tmp_path, capsys):
    run = broken_copy(synthetic_run, tmp_path, "failed")
    out = tmp_path / "adir_failed"
    rc, err = cli(["analyse", run, "--out", out, "--no-progress", "--no-pores", "--allow-incomplete"], capsys)
    assert rc == 0
    assert "warning: the run is failed (stage 01-quench failed: temperature runaway above 3000 K)" in err
    s = json.loads((out / "summary.json").read_text())
    assert s["run_status"] == "failed" and "temperature runaway" in s["run_error"]
    assert json.loads((out / "thermo_summary.json").read_text())["run_status"] == "failed"
    # the report names it and keeps it out of the comparison with the finished run
    from zifsim.compare.report import comparison_table, load_summaries, write_report
    write_report([analysed, out], tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text()
    assert "**FAILED run, not in the comparison**" in md
    both = comparison_table(load_summaries([analysed, out]))
    good = comparison_table(load_summaries([analysed]))
    assert both.equals(good)


@pytest.mark.parametrize("kind,pattern", [("dev", "not a run directory or structure file (nor a trajectory): is not a regular file"),
                                          ("file_out", "is an existing file, not a folder")])
def test_analyse_bad_paths(kind, pattern, synthetic_run, tmp_path, capsys):
    out = tmp_path / "adir"
    src = synthetic_run
    if kind == "dev":
        src = Path("/dev/zero")
    else:
        out.write_text("keep\n")
    rc, err = cli(["analyse", src, "--out", out, "--no-progress", "--no-pores"], capsys)
    assert_refused(rc, err, "analyse", pattern)
    assert (not out.exists()) if kind == "dev" else out.read_text() == "keep\n"


# ------------------------------------------------------------------ zifsim forcefield fetch
def test_fetch_endless_source_is_cut_at_the_size_limit(tmp_path):
    from zifsim.errors import ForceFieldError
    from zifsim.potentials.reaxff import fetch_forcefield
    with pytest.raises(ForceFieldError, match="is larger than 1048576 bytes .* nothing was written"):
        fetch_forcefield("ZnN_2016", url="file:///dev/zero", dest_dir=tmp_path, max_bytes=1 << 20)
    assert list(tmp_path.iterdir()) == []


class _Endless(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        self.send_response(200)
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"0" * 4096)
                time.sleep(0.01)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_fetch_sigterm_removes_the_partial_file(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/ffield"
    try:
        proc = subprocess.Popen([sys.executable, "-m", "zifsim", "forcefield", "fetch", "ZnN_2016", "--url", url,
                                 "--dir", str(tmp_path)], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                                stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and not list(tmp_path.glob(".*.part")):
            time.sleep(0.05)
        assert list(tmp_path.glob(".*.part")), "the download never started"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        server.shutdown()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "download of ZnN_2016 stopped by SIGTERM; nothing was written" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_fetch_removes_orphan_parts_of_killed_fetches(znn_ffield, tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".ffield_ZnN_2016.{dead.pid}.part"
    orphan.write_bytes(b"0" * 1000)
    live = tmp_path / f".ffield_ZnN_2016.{os.getppid()}.part"   # a live download's part is left alone
    live.write_bytes(b"1")
    rc = main(["forcefield", "fetch", "ZnN_2016", "--url", znn_ffield.resolve().as_uri(), "--dir", str(tmp_path)])
    assert rc == 0
    assert not orphan.exists() and live.exists()
    assert (tmp_path / "ffield_ZnN_2016").read_bytes() == znn_ffield.read_bytes()


# ------------------------------------------------------------------ workflow config
@pytest.mark.parametrize("key,value,pattern", [
    ("slurm.mpi_launcher", "srun; touch /tmp/pwned", "nothing else is accepted"),
    ("slurm.mpi_launcher", "mpiexec -n $(reboot)", "nothing else is accepted"),
    ("slurm.mpi_launcher", "srun --export=ALL,LD_PRELOAD=/x.so", "nothing else is accepted"),
    ("results", "runs/out*", "(no * % { } or line breaks)"),
    ("results", "runs/{material}", "(no * % { } or line breaks)"),
], ids=["launcher_semicolon", "launcher_subshell", "launcher_env", "results_star", "results_braces"])
def test_workflow_config_cannot_run_shell_code(key, value, pattern):
    from zifsim.errors import ConfigError
    from zifsim.workflow import plan
    cfg = yaml.safe_load((REPO / "configs" / "config.yaml").read_text())
    if key == "results":
        cfg["results"] = value
    else:
        cfg["slurm"] = {**(cfg.get("slurm") or {}), "mpi_launcher": value}
    with pytest.raises(ConfigError) as err:
        plan(cfg)
    assert f"config key '{key}' = {value!r} is not allowed" in str(err.value) and pattern in str(err.value)


@pytest.mark.parametrize("launcher,prefix", [("srun", "srun -n 4 "), ("mpiexec -n 4", "mpiexec -n 4 "),
                                             ("mpirun --ntasks=4", "mpirun --ntasks=4 ")])
def test_workflow_mpi_launcher_names_and_counts_pass(launcher, prefix, ff_dir, write_ffield):
    from zifsim.workflow import plan
    write_ffield(ff_dir / "ffield_ZnN_2016")
    cfg = yaml.safe_load((REPO / "configs" / "config.yaml").read_text())
    cfg["slurm"] = {**(cfg.get("slurm") or {}), "mpi_launcher": launcher}
    cfg["resources"] = {**(cfg.get("resources") or {}), "md": {"mpi_tasks": 4}}
    assert plan(cfg).mpi_prefix("md") == prefix
