"""Measured X-ray curves: every file kind read, ambiguous / malformed ones refused naming file and fix;
fit of scale / offset, Rw, and `zifsim compare-xray` end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

from zifsim.analysis.xray_data import canonical_kind, read_measured
from zifsim.errors import InputError

PDFGETX3_HEADER = """[DEFAULT]

version = 2.2.1

# input and output specifications
dataformat = QA
inputfile = sample.chi
backgroundfile = kapton.chi
outputtype = {otype}

# PDF calculation setup
mode = xray
wavelength = 0.1665
composition = Zn C6 H6 N4
bgscale = 1
rpoly = 0.9
qmaxinst = 25
qmin = 0.6
qmax = 22
rmin = 0
rmax = 30
rstep = 0.01

# End of config --------------------------------------------------------------
#### start data
#S 1
#L {labels}
"""


def _write(path, text):
    path.write_text(text)
    return path


def _pdfgetx3(tmp_path, ext, labels, x, y):
    body = "\n".join(f"{a:.6f} {b:.6f}" for a, b in zip(x, y))
    return _write(tmp_path / f"sample.{ext}", PDFGETX3_HEADER.format(otype=ext, labels=labels) + body + "\n")


@pytest.mark.parametrize("ext, labels, kind, space", [
    ("gr", r"r($\AA$)  G($\AA^{-2}$)", "D", "r"),
    ("fq", r"Q($\AA^{-1}$)  F($\AA^{-1}$)", "FQ", "Q"),
    ("sq", r"Q($\AA^{-1}$)  S", "S", "Q"),
    ("iq", r"Q($\AA^{-1}$)  I", "I", "Q"),
])
def test_pdfgetx3_files_read_with_kind_and_q_range_from_header(tmp_path, ext, labels, kind, space):
    x = np.linspace(0.5, 20, 100)
    m = read_measured(_pdfgetx3(tmp_path, ext, labels, x, np.sin(x)))
    assert (m.kind, m.space) == (kind, space)
    assert "PDFgetX3" in m.kind_from
    np.testing.assert_allclose(m.x, x, atol=1e-6)
    assert m.meta["qmin"] == 0.6 and m.meta["qmax"] == 22.0 and m.meta["rpoly"] == 0.9
    with pytest.raises(InputError, match="--kind"):  # option contradicting the header
        read_measured(tmp_path / f"sample.{ext}", kind="Gk")


def test_rmcprofile_files_of_the_zif4_glass(reference_dir):
    folder = reference_dir / "xray" / "ZIF-4-glass-Gaillac2017"
    if not folder.is_dir():
        pytest.skip(f"{folder} missing")
    d = read_measured(folder / "ZIF4glassa_31.dofr")
    assert d.kind == "D" and d.kind_from == "RMCProfile .dofr"
    assert d.x[0] == 0 and d.x[-1] == pytest.approx(40.0) and np.diff(d.x).mean() == pytest.approx(0.02)
    f = read_measured(folder / "ZIF4glassa_31.int01")
    assert f.kind == "Fk" and f.x[0] == pytest.approx(0.6125) and f.x[-1] == pytest.approx(23.987, abs=1e-3)
    assert f.err is not None and len(f.err) == len(f.x)
    # FSDP of the glass at 31 °C (../shared/reference/README.md: 1.11 1/Å)
    sel = (f.x > 0.8) & (f.x < 2.0)
    assert f.x[sel][np.argmax(f.y[sel])] == pytest.approx(1.11, abs=0.02)
    # conversions within Q space
    s = f.as_kind("S")
    np.testing.assert_allclose(s.y, f.y + 1)
    np.testing.assert_allclose(f.as_kind("FQ").y, f.x * f.y)


def test_plain_columns_need_an_explicit_kind(tmp_path):
    x = np.linspace(0.5, 10, 50)
    csv = _write(tmp_path / "mine.csv", "r,D\n" + "\n".join(f"{a},{b}" for a, b in zip(x, np.cos(x))))
    with pytest.raises(InputError, match="does not say which function") as exc:
        read_measured(csv)
    assert "mine.csv" in str(exc.value) and "--kind" in str(exc.value)
    m = read_measured(csv, kind="D")
    assert m.kind == "D" and m.kind_from == "explicit option" and len(m.x) == 50
    ws = _write(tmp_path / "mine.dat", "# Q S\n" + "\n".join(f"{a} {b} 0.01" for a, b in zip(x, x)))
    m = read_measured(ws, kind="S")
    assert m.err is not None and m.space == "Q"
    # nm^-1 refused without the unit, converted with it
    nm = _write(tmp_path / "nm.dat", "\n".join(f"{10 * a} {b}" for a, b in zip(x * 10, x)))
    with pytest.raises(InputError, match="nm"):
        read_measured(nm, kind="S")
    assert read_measured(nm, kind="S", x_unit="nm").x.max() == pytest.approx(100.0)


@pytest.mark.parametrize("kind, fix", [("G", "Gk"), ("F", "Fk"), ("g(r)", "PDFgetX3")])
def test_ambiguous_kinds_refused(kind, fix):
    with pytest.raises(InputError, match="ambiguous") as exc:
        canonical_kind(kind)
    assert fix in str(exc.value)


@pytest.mark.parametrize("name, text, match", [
    ("bad.gr", PDFGETX3_HEADER.format(otype="gr", labels="r G").replace("#L r G\n", ""), "#L"),
    ("bad.fq", PDFGETX3_HEADER.format(otype="fq", labels=r"Q($\AA^{-1}$)  X") + "1 2\n" * 6, "unknown PDFgetX3"),
    ("bad.dofr", "# header\n" + "\n".join(f"{k * 0.1} {k}" for k in range(10)) + "\n0.5 abc\n", "not numbers"),
    ("bad2.dofr", "# header\n" + "\n".join(f"{k * 0.1} {k}" for k in (3, 2, 1, 4, 5, 6)), "increasing"),
    ("bad3.int01", "#\n1 2\n3 4\n", "data rows"),
    ("bad4.int01", "#\n" + "\n".join(f"{k} nan" for k in range(6)), "NaN"),
    ("bad5.dofr", "#\n" + "1 2 3\n" * 3 + "4 5\n" * 3, "different numbers of columns"),
])
def test_malformed_files_refused_with_file_and_fix(tmp_path, name, text, match):
    path = _write(tmp_path / name, text)
    with pytest.raises(InputError, match=match) as exc:
        read_measured(path)
    assert name in str(exc.value)


# ---------------------------------------------------------------------- fit and CLI
def test_fit_scale_offset_and_rw():
    from zifsim.compare.xray_fit import fit_scale
    x = np.linspace(0, 10, 200)
    sim = np.sin(x)
    res = fit_scale(2.5 * sim, sim)
    assert res["scale"] == pytest.approx(2.5) and res["rw"] == pytest.approx(0.0, abs=1e-12)
    res = fit_scale(2.5 * sim + 0.3, sim, offset=True)
    assert (res["scale"], res["offset"]) == (pytest.approx(2.5), pytest.approx(0.3))
    noisy = 2 * sim + 0.1 * np.cos(7 * x)
    res = fit_scale(noisy, sim)
    expected = np.sqrt(np.sum((noisy - res["scale"] * sim) ** 2) / np.sum(noisy ** 2))
    assert res["rw"] == pytest.approx(expected)


@pytest.fixture(scope="module")
def nacl_measured(tmp_path_factory):
    """A 'measured' D(r) and F(Q) of rattled NaCl made with zifsim itself (Q range 0.5-18, no Lorch)."""
    from zifsim.analysis.xray import xray_of_atoms
    tmp = tmp_path_factory.mktemp("meas")
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(3)
    atoms.rattle(0.08, seed=1)
    atoms.write(tmp / "nacl.extxyz")
    x = xray_of_atoms(atoms, r_max=16.0, dr=0.01, q_max=18.0)
    r = np.arange(0.5, 12.0, 0.02)
    d = x.measured_D(0.5, 18.0, r=r)
    (tmp / "nacl.csv").write_text("r,D\n" + "\n".join(f"{a:.4f},{1.7 * b:.6f}" for a, b in zip(r, d)))
    q = np.arange(0.5, 18.0, 0.025)
    (tmp / "nacl_fq.int01").write_text("# F(Q)\n" + "\n".join(f"{a:.4f} {b:.6f}" for a, b in zip(q, x.s_minus_1(q))))
    return tmp


def test_compare_xray_cli_end_to_end(nacl_measured, tmp_path):
    from zifsim.cli import main
    out = tmp_path / "fit"
    args = ["compare-xray", str(nacl_measured / "nacl.extxyz"), str(nacl_measured / "nacl.csv"), "--kind", "D",
            "--fit-range", "1", "8", "--q-range", "0.5", "18", "--r-max", "16", "--out", str(out)]
    assert main(args) == 0
    res = json.loads((out / "fit.json").read_text())
    assert res["rw"] < 1e-3 and res["scale"] == pytest.approx(1.7, rel=1e-3)
    assert res["fit_range"] == [1.0, 8.0] and res["frames"]["n_frames"] == 1
    assert res["processing"]["q_range_invA"] == [0.5, 18.0]
    assert (out / "overlay.png").stat().st_size > 5000 and (out / "fit.csv").is_file()
    # Q space (F(Q) = S - 1 of RMCProfile): same structure, same processing -> Rw ~ 0
    out_q = tmp_path / "fitq"
    assert main(["compare-xray", str(nacl_measured / "nacl.extxyz"), str(nacl_measured / "nacl_fq.int01"),
                 "--fit-range", "0.6", "17", "--r-max", "16", "--r-window", "none", "--out", str(out_q)]) == 0
    assert json.loads((out_q / "fit.json").read_text())["rw"] < 1e-3


def test_compare_xray_refuses_before_writing(nacl_measured, tmp_path):
    from zifsim.cli import main
    out = tmp_path / "never"
    # plain columns without --kind; and an r-space file without a known Q range
    assert main(["compare-xray", str(nacl_measured / "nacl.extxyz"), str(nacl_measured / "nacl.csv"),
                 "--fit-range", "1", "8", "--out", str(out)]) == 1
    assert main(["compare-xray", str(nacl_measured / "nacl.extxyz"), str(nacl_measured / "nacl.csv"),
                 "--kind", "D", "--fit-range", "1", "8", "--out", str(out)]) == 1
    assert not out.exists()


def test_compare_xray_on_a_run_stage_averages_its_frames(nacl_measured, tmp_path):
    """SOURCE a run directory: the frames of the chosen stage (default the last) are averaged and recorded."""
    from zifsim.analysis.synthetic import write_synthetic_run
    from zifsim.cli import main
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(3)
    run = write_synthetic_run(tmp_path / "run", atoms, [("hot", 300, 300), ("cold", 100, 100)],
                              frames_per_stage=6, sigma_per_sqrtK=0.005, seed=2)
    out = tmp_path / "fit"
    assert main(["compare-xray", str(run), str(nacl_measured / "nacl.csv"), "--kind", "D", "--fit-range", "1", "8",
                 "--q-range", "0.5", "18", "--r-max", "12", "--frames", "1:5", "--out", str(out)]) == 0
    res = json.loads((out / "fit.json").read_text())
    assert res["frames"]["kind"] == "run" and res["frames"]["stage"].endswith("cold")
    assert res["frames"]["n_frames"] == 4 and res["frames"]["frames"] == "1:5"
    assert 0 < res["rw"] < 0.5  # thermal disorder vs the rattled 'measurement': close, not identical
    assert main(["compare-xray", str(run), str(nacl_measured / "nacl.csv"), "--kind", "D", "--fit-range", "1", "8",
                 "--q-range", "0.5", "18", "--stage", "nope", "--out", str(tmp_path / "x")]) == 1
    assert not (tmp_path / "x").exists()


def test_plain_columns_named_like_pdfgetx3_get_the_kind_from_the_extension_recorded(tmp_path, caplog):
    """A headerless .gr/.fq: kind from PDFgetX3's naming convention, said in kind_from and logged."""
    r = np.linspace(1.0, 10, 60)
    gr = _write(tmp_path / "plain.gr", "\n".join(f"{a} {np.sin(3 * a)}" for a in r))
    with caplog.at_level("WARNING", logger="zifsim.analysis.xray_data"):
        m = read_measured(gr)
    assert m.kind == "D" and "extension .gr" in m.kind_from and "no PDFgetX3 header" in m.kind_from
    assert m.meta["format"] == "columns"
    assert any("plain.gr" in rec.getMessage() and "extension" in rec.getMessage() for rec in caplog.records)
    # the name is only a convention: an explicit kind decides (no header to contradict)
    m = read_measured(gr, kind="Gk")
    assert m.kind == "Gk" and m.kind_from == "explicit option"
    q = np.linspace(0.5, 20, 60)
    fq = _write(tmp_path / "plain.fq", "\n".join(f"{a} {np.sin(a)}" for a in q))
    assert read_measured(fq).kind == "FQ"


def test_r_in_nm_refused_by_the_first_peak_and_read_with_x_unit(tmp_path):
    """D(r) whose first strong peak is below 0.8 (here the Zn-N-like peak at 0.2): r in nm."""
    r_A = np.linspace(0.5, 12, 300)
    d = -0.3 * r_A + 3 * np.exp(-((r_A - 2.0) / 0.1) ** 2) + 1.5 * np.exp(-((r_A - 6.0) / 0.2) ** 2)
    nm = _write(tmp_path / "d_nm.csv", "\n".join(f"{a / 10} {b * 100}" for a, b in zip(r_A, d)))
    with pytest.raises(InputError, match="probably in nm") as exc:
        read_measured(nm, kind="D")
    assert "d_nm.csv" in str(exc.value) and "--x-unit nm" in str(exc.value)
    m = read_measured(nm, kind="D", x_unit="nm")
    np.testing.assert_allclose(m.x, r_A, rtol=1e-9)
    np.testing.assert_allclose(m.y, d, rtol=1e-9, atol=1e-12)
    ok = _write(tmp_path / "d_A.csv", "\n".join(f"{a} {b}" for a, b in zip(r_A, d)))
    assert read_measured(ok, kind="D").x[0] == pytest.approx(0.5)


def test_not_increasing_names_the_line(tmp_path):
    path = _write(tmp_path / "unsorted.dofr", "# header\n# more\n" + "\n".join(f"{k} {k}" for k in (1, 2, 3, 2.5, 4, 5)))
    with pytest.raises(InputError, match="not strictly increasing") as exc:
        read_measured(path)
    assert "unsorted.dofr (line 6)" in str(exc.value)  # 2 comment lines, then the 4th row


def test_fit_errors_name_the_file_and_the_setting_of_the_caller():
    from zifsim.analysis.xray import xray_of_atoms
    from zifsim.analysis.xray_data import MeasuredCurve
    from zifsim.compare.xray_fit import compare_xray
    x = xray_of_atoms(bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2), r_max=6.0, dr=0.02, lattice_q_max=0)
    r = np.arange(1.0, 10.0, 0.05)
    m = MeasuredCurve(x=r, y=np.sin(r), kind="D", source="meas.gr", kind_from="test", meta={"qmax": 20.0})
    with pytest.raises(InputError, match="stops at") as exc:
        compare_xray(x, m, (1.0, 9.0))
    assert "meas.gr (--r-max)" in str(exc.value) and "--r-max of at least 14" in str(exc.value)
    hints = {"fit_range": "experiments.Cu.fit_range_r", "r_max": "the analysis RDF range"}
    with pytest.raises(InputError) as exc:
        compare_xray(x, m, (1.0, 9.0), hints=hints)
    assert "--r-max" not in str(exc.value) and "the analysis RDF range of at least 14" in str(exc.value)
    with pytest.raises(InputError, match="points in the fit range") as exc:
        compare_xray(x, m, (1.0, 1.05), hints=hints)
    assert "meas.gr (experiments.Cu.fit_range_r)" in str(exc.value)
    with pytest.raises(InputError, match="fit range 3.0-2.0") as exc:
        compare_xray(x, m, (3.0, 2.0))
    assert "meas.gr (--fit-range)" in str(exc.value)
