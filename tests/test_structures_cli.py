"""``zifsim build`` / ``zifsim validate`` end to end, and the committed structures/ folder."""
from __future__ import annotations

import csv
import json

import pytest

from zifsim.cli import main
from zifsim.settings import STRUCTURES_DIR
from zifsim.structures import CELL_FILES


def test_build_and_validate_cli(tmp_path, capsys):
    out = tmp_path / "ZIF-8"
    assert main(["build", "ZIF-8", "--min-width", "20", "--elements", "C,H,N,Zn", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "=> valid" in text and "ZIF-8" in text
    assert sorted(p.name for p in out.iterdir()) == sorted(CELL_FILES)
    rep = json.loads((out / "validation.json").read_text())
    assert rep["provenance"]["supercell"]["repeats"] == [2, 2, 2] and rep["n_atoms"] == 138 * 8
    assert main(["validate", str(out)]) == 0
    assert "=> valid" in capsys.readouterr().out
    assert main(["validate", str(out / "cell.data"), "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["cn_counts"] == {"4": 48}


def test_build_all_from_registry(tmp_path, capsys):
    """--all over a two-material registry: every folder, summary.csv and summary.png."""
    from zifsim.registry import MATERIALS_FILE
    import yaml
    data = yaml.safe_load(MATERIALS_FILE.read_text())
    data["materials"] = {k: data["materials"][k] for k in ("ZIF-Cu-1", "ZIF-8", "ZIF-76")}
    reg = tmp_path / "materials.yaml"
    reg.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "structures"
    assert main(["build", "--all", "--registry", str(reg), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "[2/2] ZIF-8" in text and "ETA" in text and "facts only (no structure): ZIF-76" in text
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["material"] for r in rows] == ["ZIF-Cu-1", "ZIF-8"]
    assert all(r["passed"] == "True" for r in rows)
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "ZIF-Cu-1" / "cell.data").is_file()


def test_validate_clean_option(capsys):
    """A raw CoRE CIF (X-ray C-H 0.93 Å) validates as is and after --clean."""
    from zifsim.structures.io import core_mof_cif
    path = core_mof_cif("CUIMDZ01")
    assert main(["validate", str(path), "--clean"]) == 0
    out = capsys.readouterr().out
    assert "tau4 0.465" in out and "=> valid" in out


@pytest.mark.parametrize("name", ["ZIF-4", "ZIF-62"])
def test_committed_structures_regenerate_bit_for_bit(name, tmp_path):
    """structures/<NAME>/ is exactly what `zifsim build --all --out structures` writes today."""
    committed = STRUCTURES_DIR / name
    if not committed.is_dir():
        pytest.skip(f"{committed} not generated (run: zifsim build --all --out structures)")
    assert main(["build", name, "--out", str(tmp_path)]) == 0
    for fname in CELL_FILES:
        assert (tmp_path / fname).read_bytes() == (committed / fname).read_bytes(), fname


def _registry_structures():
    from zifsim.registry import load_registry
    return [n for n, m in load_registry().materials.items() if m.has_structure]


@pytest.mark.parametrize("name", _registry_structures())
def test_committed_structure_validates(name):
    """Every registry material with a structure is in structures/ and re-validates from its files
    (covers the MLIP-relaxed net cells, too slow to rebuild in a test)."""
    from zifsim.registry import load_registry
    from zifsim.structures import read_structure, validate_structure
    folder = STRUCTURES_DIR / name
    if not folder.is_dir():
        pytest.skip(f"{folder} absent: `zifsim build --all --out structures` did not produce it "
                    f"(run `zifsim build {name} --out DIR` to see why)")
    atoms = read_structure(folder / "cell.extxyz")
    rep = validate_structure(atoms, name=name)
    assert rep["passed"], rep["checks"]
    lo, hi = rep["MN_distance_A"]["min"], rep["MN_distance_A"]["max"]
    assert 1.9 <= lo and hi <= 2.5
    stored = json.loads((folder / "validation.json").read_text())
    assert stored["passed"] and stored["counts"] == rep["counts"]
    want = load_registry().get(name).linkers
    assert {k: pytest.approx(v) for k, v in rep["linkers_per_metal"].items()} == want
    assert read_structure(folder / "cell.data").get_chemical_formula() == atoms.get_chemical_formula()


def test_list_materials(capsys):
    assert main(["build", "--list"]) == 0
    out = capsys.readouterr().out
    assert "ZIF-62" in out and "parent: ZIF-4 + im->bim x=0.25" in out and "(facts only)" in out
    assert main(["build", "ZIF-4"]) == 1
    assert "no output folder" in capsys.readouterr().err
