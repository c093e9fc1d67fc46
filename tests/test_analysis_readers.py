"""Anyone's LAMMPS files: dumps, data files of every atom style, DCD / XTC, odd names; bad ones refused.

The same rattled ZIF-4 cell is written in every format; each must give the
frame (elements, cell, positions) and the coordination numbers / density of
the extxyz reference. Bad files are refused by ``zifsim analyse`` with a
message that names the file and the fix, and no output folder is left.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from zifsim.analysis.coordination import Coordination
from zifsim.analysis.trajectory import open_source
from zifsim.cli import main
from zifsim.errors import InputError
from zifsim.structures.io import lammps_data_text, read_structure

ROOT = Path(__file__).resolve().parents[1]
ELEMENTS = ["C", "H", "N", "Zn"]


@pytest.fixture(scope="module")
def glass() -> Atoms:
    """ZIF-4 (committed cell, 272 atoms) rattled by 0.1 Å, three Zn moved 0.7 Å (CN below 4)."""
    atoms = read_structure(ROOT / "structures" / "ZIF-4" / "cell.extxyz")
    atoms.rattle(0.1, seed=3)
    zn = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Zn"][:3]
    atoms.positions[zn] += [0.7, 0.0, 0.0]
    return atoms


@pytest.fixture(scope="module")
def files(glass, tmp_path_factory) -> dict[str, Path]:
    """The glass as extxyz, dumps and data files."""
    d = tmp_path_factory.mktemp("readers")
    out = {"extxyz": d / "glass.extxyz"}
    glass.write(out["extxyz"], format="extxyz")
    frac = glass.get_scaled_positions()
    out["dump_types"] = _dump(d / "glass.lammpstrj", glass, "id type x y z")
    out["dump_q_scaled"] = _dump(d / "scaled.dump", glass, "type q id xs ys zs", frac=frac)
    out["dump_unwrapped"] = _dump(d / "unwrapped.lammpstrj", glass, "element id xu yu zu", shift=True)
    data = lammps_data_text(glass, ELEMENTS, title="charge")
    out["data_suffix"] = d / "x.data.4000000"
    out["data_suffix"].write_text(data)
    import ase.io
    out["data_full"] = d / "glass_full.data"
    ase.io.write(out["data_full"], glass, format="lammps-data", atom_style="full", specorder=ELEMENTS,
                 masses=True)
    return out


def _dump(path: Path, atoms: Atoms, columns: str, frac=None, shift=False, n_frames: int = 2) -> Path:
    """A LAMMPS dump of ``atoms`` (orthogonal box at the origin) with the given columns, in reverse id order."""
    cell = np.asarray(atoms.cell)
    assert np.allclose(cell, np.diag(np.diag(cell)))
    pos = atoms.positions.copy()
    if shift:  # unwrapped: move every third atom two cells along x
        pos[::3] += 2 * cell[0]
    sym = atoms.get_chemical_symbols()
    typ = [ELEMENTS.index(s) + 1 for s in sym]
    with open(path, "w") as fh:
        for step in range(n_frames):
            fh.write(f"ITEM: TIMESTEP\n{1000 * step}\nITEM: NUMBER OF ATOMS\n{len(atoms)}\n"
                     "ITEM: BOX BOUNDS pp pp pp\n" + "".join(f"0.0 {cell[k, k]:.10f}\n" for k in range(3))
                     + f"ITEM: ATOMS {columns}\n")
            for i in reversed(range(len(atoms))):
                val = {"id": i + 1, "type": typ[i], "element": sym[i], "q": 0.5}
                r = frac[i] if frac is not None else pos[i]
                for k, c in enumerate("xyz"):
                    val[c] = val[c + "u"] = val[c + "s"] = f"{r[k]:.10f}"
                fh.write(" ".join(str(val[c]) for c in columns.split()) + "\n")
    return path


def _frame(path, **kw):
    return next(open_source(path, **kw).frames)


def _same_frame(a, b, atol=1e-6):
    assert list(a.elements) == list(b.elements)
    np.testing.assert_allclose(a.cell, b.cell, atol=atol)
    d = a.fractional() - b.fractional()
    np.testing.assert_allclose(d - np.round(d), 0.0, atol=atol)


def test_every_kind_gives_the_reference_frame(glass, files):
    ref = _frame(files["extxyz"])
    _same_frame(_frame(files["dump_types"], types="C,H,N,Zn"), ref)
    _same_frame(_frame(files["dump_q_scaled"], types="1=C,2=H,3=N,4=Zn"), ref)
    unw = _frame(files["dump_unwrapped"])
    _same_frame(unw, ref)
    expected = np.floor(glass.get_scaled_positions(wrap=False)).astype(int)
    expected[::3, 0] += 2  # the atoms _dump moved two cells along x
    np.testing.assert_array_equal(unw.images, expected)
    _same_frame(_frame(files["data_full"]), ref)
    _same_frame(_frame(files["data_suffix"]), ref)  # numeric suffix: the name before it decides
    _same_frame(_frame(files["data_suffix"], fmt="lammps-data"), ref)


@pytest.mark.parametrize("style, columns", [("atomic", "{i} {t} {x}"), ("charge", "{i} {t} 0.25 {x}"),
                                            ("molecular", "{i} 7 {t} {x}"), ("full", "{i} 7 {t} -0.5 {x} 0 1 0")])
def test_data_file_atom_styles(glass, tmp_path, style, columns):
    """Every atom style, with and without the '# style' comment; masses without element comments."""
    text = lammps_data_text(glass, ELEMENTS, atom_style="atomic")
    head, body = text.split("Atoms # atomic\n\n")
    head = "\n".join(line.split("#")[0].rstrip() if line[:1].isdigit() else line for line in head.splitlines())
    rows = [ln.split() for ln in body.splitlines() if ln.strip()]
    lines = [columns.format(i=r[0], t=r[1], x=" ".join(r[2:5])) for r in rows]
    for comment in (f" # {style}", ""):
        path = tmp_path / f"{style}{bool(comment)}.lmp"
        path.write_text(head + f"\nAtoms{comment}\n\n" + "\n".join(lines) + "\n")
        if style == "molecular" and not comment:  # 6 integer-led columns: charge or molecular?
            with pytest.raises(InputError, match="--atom-style") as err:
                read_structure(path)
            assert str(path) in str(err.value)
            atoms = read_structure(path, atom_style="molecular")
        else:
            atoms = read_structure(path)
        assert atoms.get_chemical_symbols() == glass.get_chemical_symbols()  # elements from masses
        np.testing.assert_allclose(atoms.cell.cellpar(), glass.cell.cellpar(), atol=1e-8)


def test_cn_and_density_equal_extxyz(files):
    """Coordination (per metal, per frame) and density from every reader equal the extxyz ones."""
    ref = _frame(files["extxyz"])
    c_ref = Coordination().compute(ref)
    assert (c_ref.cn != 4).any(), "the test needs some non-4-coordinated Zn"
    for key, kw in [("dump_types", {"types": "C,H,N,Zn"}), ("data_full", {}), ("data_suffix", {}),
                    ("dump_unwrapped", {})]:
        f = _frame(files[key], **kw)
        np.testing.assert_array_equal(Coordination().compute(f).cn, c_ref.cn, err_msg=key)
        assert f.density_gcm3() == pytest.approx(ref.density_gcm3(), rel=1e-7), key


ANALYSE = ["--no-pores", "--no-progress", "--r-max", "6"]


@pytest.fixture(scope="module")
def ref_summary(files, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ref")
    assert main(["analyse", str(files["extxyz"]), "--out", str(out), *ANALYSE]) == 0
    return json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("key, extra", [("dump_types", ["--types", "C,H,N,Zn"]), ("data_full", []),
                                        ("data_suffix", ["--format", "lammps-data"])])
def test_zifsim_analyse_end_to_end(files, ref_summary, tmp_path, key, extra, capsys):
    """`zifsim analyse` on a types-only dump, a full-style data file and x.data.4000000: same CN and
    density as the extxyz, and the cutoff rule printed."""
    capsys.readouterr()
    assert main(["analyse", str(files[key]), *extra, "--out", str(tmp_path / "x"), *ANALYSE]) == 0
    printed = capsys.readouterr().out
    assert "M-N cutoff Zn 2.49 Å" in printed and "1.25 x the crystal M-N bond" in printed
    ref, got = ref_summary, json.loads((tmp_path / "x" / "summary.json").read_text())
    assert got["mean_CN_last_stage"] == ref["mean_CN_last_stage"] < 4.0
    assert got["density_gcm3_last"] == pytest.approx(ref["density_gcm3_last"], rel=1e-7)
    assert got["cutoffs_A"] == ref["cutoffs_A"] == {"Zn": 2.49}
    assert got["kind"] == ("trajectory" if key.startswith("dump") else "structure")
    assert json.loads((tmp_path / "x" / "pores.json").read_text())["skipped"]


def _write_mda(path: Path, atoms: Atoms, n_frames: int = 3):
    import MDAnalysis as mda
    u = mda.Universe.empty(len(atoms), trajectory=True)
    with mda.Writer(str(path), len(atoms)) as w:
        for k in range(n_frames):
            u.atoms.positions = atoms.positions + 0.01 * k
            u.dimensions = list(atoms.cell.cellpar())
            w.write(u.atoms)


@pytest.mark.parametrize("fmt", ["dcd", "xtc"])
def test_dcd_xtc_with_topology(glass, files, tmp_path, fmt):
    path = tmp_path / f"traj.{fmt}"
    _write_mda(path, glass)
    ref = _frame(files["extxyz"])
    for topology in (files["data_full"], files["extxyz"]):
        src = open_source(path, topology=topology)
        frames = list(src.frames)
        assert src.kind == "trajectory" and src.total == len(frames) == 3
        _same_frame(frames[0], ref, atol=2e-3 if fmt == "xtc" else 1e-4)  # XTC stores 0.01 Å
        assert frames[0].density_gcm3() == pytest.approx(ref.density_gcm3(), rel=1e-5)
    assert len(list(open_source(path, topology=files["data_full"], every=2).frames)) == 2


def test_zifsim_own_stage_dump_given_directly(tmp_path):
    """A zifsim NN-stage/traj.lammpstrj alone: read, with the stage name and its thermo (T, time)."""
    from zifsim.analysis.synthetic import write_synthetic_run
    atoms = read_structure(ROOT / "structures" / "ZIF-Cu-1" / "cell.extxyz")  # triclinic
    run = write_synthetic_run(tmp_path / "run", atoms, [("heat", 300, 900)], frames_per_stage=4)
    src = open_source(run / "00-heat" / "traj.lammpstrj")
    frames = list(src.frames)
    assert src.kind == "trajectory" and len(frames) == 4
    assert frames[-1].stage == "heat" and frames[-1].temp_K == pytest.approx(900)
    np.testing.assert_allclose(frames[0].cell[1:, :2].ravel()[[0, 2, 3]],
                               [atoms.cell[1, 0], atoms.cell[2, 0], atoms.cell[2, 1]], atol=1e-5)


def test_triclinic_scaled_unwrapped_dump(tmp_path):
    """ZIF-Cu-1 (rhombohedral, LAMMPS-triclinic) as a dump with scaled unwrapped xsu ysu zsu, no id."""
    atoms = read_structure(ROOT / "structures" / "ZIF-Cu-1" / "cell.extxyz")
    ref = _frame(ROOT / "structures" / "ZIF-Cu-1" / "cell.extxyz")
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = ref.cell
    lo = np.array([-3.0, 1.0, 2.0])  # box not at the origin
    bounds = [(lo[0] + min(0, xy, xz, xy + xz), lo[0] + lx + max(0, xy, xz, xy + xz), xy),
              (lo[1] + min(0, yz), lo[1] + ly + max(0, yz), xz), (lo[2], lo[2] + lz, yz)]
    frac = ref.fractional() + np.array([1, 0, -2]) * (np.arange(len(atoms)) % 2)[:, None]
    path = tmp_path / "dump.cu.100"
    path.write_text("ITEM: TIMESTEP\n100\nITEM: NUMBER OF ATOMS\n102\nITEM: BOX BOUNDS xy xz yz pp pp pp\n"
                    + "".join(f"{a:.10f} {b:.10f} {t:.10f}\n" for a, b, t in bounds)
                    + "ITEM: ATOMS element xsu ysu zsu\n"
                    + "".join(f"{e} {f[0]:.12f} {f[1]:.12f} {f[2]:.12f}\n" for e, f in zip(ref.elements, frac)))
    got = _frame(path, fmt="lammps-dump")  # name says nothing: --format
    _same_frame(got, ref)
    np.testing.assert_allclose(got.origin, lo, atol=1e-9)
    np.testing.assert_array_equal(got.images[1::2], [[1, 0, -2]] * (len(atoms) // 2))
    np.testing.assert_array_equal(Coordination().compute(got).cn, Coordination().compute(ref).cn)


def _bad_files(tmp: Path, files) -> list:
    """(args, phrase the error must contain) for one bad file of every kind."""
    tmp.mkdir(exist_ok=True)
    garbled = tmp / "garbled.lammpstrj"
    text = files["dump_types"].read_text().splitlines()
    text[12] = "17 3 not-a-number 1.0 2.0"
    garbled.write_text("\n".join(text) + "\n")
    nomap = files["dump_types"]
    bad_el = tmp / "badel.lammpstrj"
    bad_el.write_text(files["dump_unwrapped"].read_text().replace("\nZn ", "\nZn1 ", 1))
    odd = tmp / "run.4000000"
    odd.write_text("this is no structure\n")
    short = tmp / "short.data"
    short.write_text(files["data_full"].read_text().replace("Atoms # full", "Atoms # atomic"))
    clash = tmp / "clash.data"
    clash.write_text(files["data_suffix"].read_text())
    plain = tmp / "plain.xyz"
    plain.write_text("2\n\nZn 0 0 0\nN 2 0 0\n")
    dcd = tmp / "t.dcd"
    _write_mda(dcd, Atoms("ZnN", positions=[[0, 0, 0], [2, 0, 0]], cell=[10, 10, 10], pbc=True), 1)
    bad_dcd = tmp / "bad.dcd"
    bad_dcd.write_bytes(b"\x54\0\0\0CORD" + b"\x07" * 60)
    broken = tmp / "broken.xtc"
    broken.write_bytes((1995).to_bytes(4, "big") + b"\0" * 20)
    return [
        ([str(garbled)], "malformed atom lines"),
        ([str(nomap)], "--types C,H,N,Zn"),
        ([str(nomap), "--types", "C,H,N"], "type(s) 4 have no element"),
        ([str(bad_el)], "not chemical symbols"),
        ([str(odd)], "--format"),
        ([str(short)], "malformed LAMMPS data file"),
        ([str(clash), "--types", "H,C,N,Zn"], "the Masses section says C"),
        ([str(plain)], "no cell"),
        ([str(dcd)], "--topology"),
        ([str(dcd), "--topology", str(files["extxyz"])], "the topology 272"),
        ([str(broken), "--topology", str(files["extxyz"])], "cannot read the XTC file"),
        ([str(bad_dcd), "--topology", str(files["extxyz"])], "cannot read the DCD file"),
    ]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # MDAnalysis __del__ of a
# reader whose constructor failed (its own bug, after our InputError)
def test_bad_files_refused_naming_file_and_fix(files, tmp_path, capsys):
    for args, phrase in _bad_files(tmp_path / "bad", files):
        out = tmp_path / "out"
        assert main(["analyse", *args, "--out", str(out), "--no-pores", "--no-progress"]) != 0, args
        err = capsys.readouterr().err
        assert phrase in err and args[0] in err and "fix:" in err and "Traceback" not in err, (args, err)
        assert not out.exists(), f"{args}: output left behind"


def test_validate_and_analyse_share_the_cutoff(files, tmp_path, capsys):
    """zifsim validate and zifsim analyse: same default M-N cutoff, printed, same CN of the same glass."""
    rep = tmp_path / "validation.json"
    main(["validate", str(files["extxyz"]), "--json", str(rep)])
    v_out = capsys.readouterr().out
    assert main(["analyse", str(files["extxyz"]), "--out", str(tmp_path / "a"), *ANALYSE]) == 0
    a_out = capsys.readouterr().out
    v, s = json.loads(rep.read_text()), json.loads((tmp_path / "a" / "summary.json").read_text())
    assert v["mn_cutoff_A"] == s["cutoffs_A"] == {"Zn": 2.49}
    assert v["mn_cutoff_rule"] == s["cutoff_rule"]
    assert "M-N cutoff Zn 2.49 Å" in v_out and "M-N cutoff Zn 2.49 Å" in a_out
    cn_validate = sum(int(k) * n for k, n in v["cn_counts"].items()) / sum(v["cn_counts"].values())
    assert cn_validate == pytest.approx(s["mean_CN_last_stage"], abs=1e-12) and cn_validate < 4


def test_validate_reads_any_data_file(files, tmp_path, capsys):
    """zifsim validate on x.data.4000000 (--format) and a full-style file: the extxyz's report."""
    reports = {}
    for key, extra in (("extxyz", []), ("data_suffix", ["--format", "lammps-data"]), ("data_full", [])):
        main(["validate", str(files[key]), *extra, "--json", str(tmp_path / f"{key}.json")])
        reports[key] = json.loads((tmp_path / f"{key}.json").read_text())
    for key in ("data_suffix", "data_full"):
        for field in ("cn_counts", "mn_cutoff_A", "formula", "MN_distance_A"):
            assert reports[key][field] == reports["extxyz"][field], (key, field)
        assert reports[key]["density_gcm3"] == pytest.approx(reports["extxyz"]["density_gcm3"], abs=1e-5)


@pytest.mark.slow  # one snakemake subprocess (3 analyses + report), ~1 min on 2 busy cores
def test_analysis_only_workflow_reads_anyones_files(files, ref_summary, tmp_path):
    """The analysis-only workflow on a types-only dump, a full-style data file and x.data.4000000
    (imported_runs keys types / format; analysis.pores off): CN and density of the extxyz."""
    import subprocess
    import sys

    import yaml
    runs = {"dump": {"path": str(files["dump_types"]), "types": "C,H,N,Zn"},
            "full": {"path": str(files["data_full"])},
            "suffix": {"path": str(files["data_suffix"]), "format": "lammps-data"}}
    cfg = {"mode": "analysis_only", "results": "res",
           "imported_runs": [{"name": n, "material": "ZIF-4", **r} for n, r in runs.items()],
           "analysis": {"r_max_A": 6.0, "pores": False}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                           "--cores", "2", "--configfile", str(tmp_path / "config.yaml")],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    for name in runs:
        s = json.loads((tmp_path / "res" / "analysis" / "imported" / name / "summary.json").read_text())
        assert s["mean_CN_last_stage"] == ref_summary["mean_CN_last_stage"] < 4.0, name
        assert s["density_gcm3_last"] == pytest.approx(ref_summary["density_gcm3_last"], rel=1e-7), name
        assert s["cutoffs_A"] == {"Zn": 2.49} and s["pores"] is None, name
        assert json.loads((tmp_path / "res" / "analysis" / "imported" / name / "pores.json").read_text())["skipped"]
    assert (tmp_path / "res" / "report" / "comparison.csv").stat().st_size > 0
