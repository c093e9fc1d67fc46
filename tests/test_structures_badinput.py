"""Catalogue of bad inputs: each gives a clear error naming the file and the problem,
exit status 1, and no output file.

Hand-written inputs live in tests/data/; defective frameworks are derived at
test time from the ZIF-4 cell (so no third-party structure is stored here).
"""
from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
import pytest

from zifsim.cli import main
from zifsim.structures import build_material

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def zif4_atoms():
    return build_material("ZIF-4").atoms


def _run(argv, capsys):
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, err


def _no_output(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


FILE_CASES = [
    ("bad_malformed.cif", [r"bad_malformed\.cif", r"malformed CIF: CIF loop ended unexpectedly with incomplete row"]),
    ("bad_notcif.cif", [r"bad_notcif\.cif", r"no data_ block found: this is not a CIF"]),
    ("bad_nocell.cif", [r"bad_nocell\.cif \(_cell_length_a\)", r"no unit cell", r"fix: .*six cell parameters"]),
    ("bad_element.cif", [r"bad_element\.cif \(line 17\)", r"unknown element 'Qq' \(site Q1\)"]),
    ("bad_partial.cif", [r"bad_partial\.cif \(_atom_site_occupancy\)", r"2 atom sites have partial occupancy: N1A",
                         r"--disorder major"]),
    ("bad_foreign_metal.cif", [r"bad_foreign_metal\.cif", r"element\(s\) Pt cannot be part of a ZIF"]),
    ("bad_no_metal.cif", [r"bad_no_metal\.cif", r"contains no metal: no framework"]),
    ("bad_nomasses.data", [r"bad_nomasses\.data", r"no Masses section"]),
    ("does_not_exist.cif", [r"does_not_exist\.cif", r"structure file not found"]),
]


@pytest.mark.parametrize("fname,patterns", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_file(fname, patterns, tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = _run(["build", str(DATA / fname), "--out", str(out)], capsys)
    assert rc == 1
    assert err.startswith("zifsim build: error: ")
    for pat in patterns:
        assert __import__("re").search(pat, err), (pat, err)
    assert _no_output(out)


def test_partial_occupancy_resolved_by_major_rule(tmp_path, capsys):
    """The same file with --disorder major keeps one N of the pair, then fails for lack of a framework."""
    rc, err = _run(["build", str(DATA / "bad_partial.cif"), "--disorder", "major", "--out", str(tmp_path / "o")],
                   capsys)
    assert rc == 1 and "partial occupancy" not in err and "fails validation" in err


def test_metal_with_cn3(zif4_atoms, tmp_path, capsys):
    """One im removed: two Zn are left 3-coordinated."""
    from zifsim.structures.linkers import find_linkers
    atoms = zif4_atoms.copy()
    del atoms[find_linkers(atoms)[0].indices]
    path = tmp_path / "zif4_missing_linker.extxyz"
    ase.io.write(path, atoms, format="extxyz")
    rc, err = _run(["build", str(path), "--out", str(tmp_path / "o")], capsys)
    assert rc == 1
    assert "zif4_missing_linker.extxyz" in err and "fails validation" in err
    assert "2 of 16 metals wrong" in err and "(CN 3)" in err
    assert _no_output(tmp_path / "o")
    rc = main(["validate", str(path)])
    assert rc == 1
    assert "[FAIL] every metal 4-coordinated by N" in capsys.readouterr().out


def test_missing_h_cannot_be_placed(zif4_atoms, tmp_path, capsys):
    """An H removed and a Zn put 0.6 Å from where it belongs: no room for the H."""
    atoms = zif4_atoms.copy()
    sym = np.array(atoms.get_chemical_symbols())
    h = int(np.flatnonzero(sym == "H")[0])
    c = int(np.argmin(np.where(sym == "C", atoms.get_distances(h, range(len(atoms)), mic=True), 9)))
    v = atoms.get_distance(c, h, mic=True, vector=True)
    site = atoms.positions[c] + v / np.linalg.norm(v) * 1.70
    del atoms[h]
    atoms += ase.Atoms("Zn", positions=[site])
    path = tmp_path / "zif4_blocked_h.extxyz"
    ase.io.write(path, atoms, format="extxyz")
    rc, err = _run(["build", str(path), "--out", str(tmp_path / "o")], capsys)
    assert rc == 1
    assert "zif4_blocked_h.extxyz" in err and "missing H cannot be placed" in err and "from Zn" in err
    assert _no_output(tmp_path / "o")


def test_h_on_nitrogen(zif4_atoms, tmp_path, capsys):
    """A protonated N (neutral imidazole) is not a bridging imidazolate."""
    atoms = zif4_atoms.copy()
    sym = np.array(atoms.get_chemical_symbols())
    n = int(np.flatnonzero(sym == "N")[0])
    atoms += ase.Atoms("H", positions=[atoms.positions[n] + [0.0, 0.0, 1.01]])
    path = tmp_path / "zif4_nh.extxyz"
    ase.io.write(path, atoms, format="extxyz")
    rc, err = _run(["build", str(path), "--out", str(tmp_path / "o")], capsys)
    assert rc == 1 and "is bonded to N" in err and "zif4_nh.extxyz" in err


def test_unknown_material(tmp_path, capsys):
    rc, err = _run(["build", "ZIF-44", "--out", str(tmp_path / "o")], capsys)
    assert rc == 1 and "unknown material 'ZIF-44'" in err and "did you mean ZIF-4" in err
    assert "materials.yaml" in err


def test_facts_only_material(tmp_path, capsys):
    rc, err = _run(["build", "ZIF-76", "--out", str(tmp_path / "o")], capsys)
    assert rc == 1 and "ZIF-76 has no structure in the registry (facts only)" in err


def test_impossible_substitution_fraction(tmp_path):
    """A registry material asking x = 0.1 bim per Zn of a 16-Zn cell is refused with the options."""
    from zifsim.errors import InputError
    from zifsim.registry import MATERIALS_FILE, load_registry
    text = MATERIALS_FILE.read_text().replace(
        "  ZIF-62-Co:", "  ZIF-62-x01:\n    formula: Zn(im)1.9(bim)0.1\n    metal: Zn\n"
        "    linkers: {im: 1.9, bim: 0.1}\n"
        "    source: {parent: ZIF-4, substitute: {linker: {from: im, to: bim, x: 0.1}}}\n  ZIF-62-Co:")
    path = tmp_path / "materials.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        build_material("ZIF-62-x01", registry=load_registry(path))
    msg = str(exc.value)
    assert "ZIF-62-x01 (substitute.linker.x)" in msg and "1.6 bim linkers" in msg and "x = 0.0625 or 0.125" in msg


@pytest.mark.parametrize("args,pattern", [
    (["--supercell", "2,2"], "cannot read supercell '2,2'"),
    (["--elements", "C,H,N"], "ZIF-Cu-1 (--elements): the cell contains Cu but the type list C,H,N does not"),
    (["--elements", "C,H,N,Cu,Qx"], "unknown element(s) in the type list: Qx"),
    (["--min-width", "-5"], "minimum width must be positive"),
])
def test_bad_options(args, pattern, tmp_path, capsys):
    rc, err = _run(["build", "ZIF-Cu-1", "--out", str(tmp_path / "o"), *args], capsys)
    assert rc == 1 and pattern in err, err
    assert _no_output(tmp_path / "o")


def test_disordered_core_mof_entry_refused(tmp_path, capsys):
    """CoRE MOF VEJYUF keeps overlapping (disordered) atoms at full occupancy: refused, VEJYUF01 advised."""
    from zifsim.structures.io import core_mof_cif
    path = core_mof_cif("VEJYUF")
    rc, err = _run(["build", str(path), "--out", str(tmp_path / "o")], capsys)
    assert rc == 1 and "VEJYUF_clean.cif" in err
    assert "Å apart with full occupancy" in err and "unresolved disorder" in err and "VEJYUF01" in err
    assert _no_output(tmp_path / "o")
