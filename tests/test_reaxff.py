"""ReaxFF provider: registry by sha256, element coverage, control values, fetch with checksum."""
from __future__ import annotations


import pytest

from zifsim.cli import main as cli_main
from zifsim.errors import ConfigError, ForceFieldError
from zifsim.potentials import get_provider
from zifsim.potentials.reaxff import (ReaxFFProvider, UnregisteredForceFieldWarning, fetch_forcefield,
                                      list_forcefields, parse_ffield_elements, registry_entry, sha256_file)

ZNN_SHA = "353617bbcff6a655aa6455932b250541f600201f2ad4aa267b05f52099bb47c8"


def test_registry_knows_znn_2016():
    entry = registry_entry("ZnN_2016")
    assert entry["sha256"] == ZNN_SHA
    assert entry["elements"] == ["C", "H", "O", "N", "S", "Mg", "P", "Na", "Cu", "Cl", "Zn", "X"]
    assert "9616" in entry["citation"] and entry["control"]["hbond_cutoff"] == 6.0
    assert registry_entry(ZNN_SHA) is entry and registry_entry("ffield_ZnN_2016") is entry


def test_elements_parsed_from_atom_block(znn_ffield):
    assert sha256_file(znn_ffield) == ZNN_SHA
    assert parse_ffield_elements(znn_ffield) == tuple(registry_entry("ZnN_2016")["elements"])


def test_provider_commands_and_metadata(znn_ffield, tmp_path):
    p = get_provider({"kind": "reaxff", "file": "ffield_ZnN_2016"})
    assert isinstance(p, ReaxFFProvider) and p.units == "real" and "Cd" not in p.elements
    p.prepare(tmp_path)
    control = (tmp_path / "reaxff.control").read_text()
    for line in ("nbrhood_cutoff 5.0", "hbond_cutoff 6.0", "bond_graph_cutoff 0.3", "thb_cutoff 0.001"):
        assert line in control
    cmds = p.setup_commands(["C", "H", "N", "Zn"])
    assert cmds[0] == f"pair_style reaxff \"{tmp_path / 'reaxff.control'}\""     # quoted for LAMMPS
    assert cmds[1].endswith(f"\"{znn_ffield.resolve()}\" C H N Zn")
    assert "qeq/reaxff 1 0.0 10.0 1e-06 reaxff" in cmds[2]
    meta = p.metadata()
    assert meta["sha256"] == ZNN_SHA and meta["registered"] and meta["registry_name"] == "ZnN_2016"


@pytest.mark.parametrize("metal", ["Cd", "Co"])
def test_missing_element_is_named_with_a_fix(znn_ffield, metal):
    p = ReaxFFProvider(znn_ffield)
    with pytest.raises(ForceFieldError) as err:
        p.check_elements(["C", "H", "N", metal], source="cell.cif")
    text = str(err.value)
    assert metal in text and "cell.cif" in text and "fix:" in text and "mlip" in text


def test_unregistered_file_runs_with_warning(znn_ffield, tmp_path):
    copy = tmp_path / "ffield_modified"
    copy.write_text(znn_ffield.read_text().replace("Reactive MD-force field", "Modified force field", 1))
    with pytest.warns(UnregisteredForceFieldWarning, match="not in the zifsim registry"):
        p = ReaxFFProvider(copy)
    assert not p.metadata()["registered"] and p.control == {}
    assert p.setup_commands(["C", "H", "N", "Zn"])[0] == "pair_style reaxff NULL"
    with pytest.raises(ForceFieldError):
        ReaxFFProvider(copy, allow_unregistered=False)


def test_truncated_file_error_names_line(tmp_path):
    bad = tmp_path / "ffield_bad"
    bad.write_text("title\n 2 ! general\n 1.0\n 2.0\n nonsense here\n")
    with pytest.raises(ForceFieldError, match=r"line 5"):
        parse_ffield_elements(bad)


def test_missing_file_says_how_to_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("ZIFSIM_FORCEFIELD_DIR", str(tmp_path))
    with pytest.raises(ForceFieldError, match="zifsim forcefield fetch ZnN_2016"):
        get_provider({"kind": "reaxff", "file": "ffield_ZnN_2016"})


def test_bad_provider_keys():
    with pytest.raises(ConfigError, match="contrl"):
        get_provider({"kind": "reaxff", "contrl": {}})


def test_fetch_from_file_url_verifies_checksum(znn_ffield, tmp_path):
    dest = tmp_path / "ff"
    path = fetch_forcefield("ZnN_2016", url=znn_ffield.resolve().as_uri(), dest_dir=dest)
    assert path == dest / "ffield_ZnN_2016" and sha256_file(path) == ZNN_SHA
    assert sorted(p.name for p in dest.iterdir()) == ["ffield_ZnN_2016"]
    rows = list_forcefields(dest)
    assert rows[0]["verified"]


def test_fetch_wrong_checksum_leaves_nothing(tmp_path):
    fake = tmp_path / "fake"
    fake.write_text("not a force field\n")
    dest = tmp_path / "ff"
    with pytest.raises(ForceFieldError, match="checksum mismatch"):
        fetch_forcefield("ZnN_2016", url=fake.as_uri(), dest_dir=dest)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_fetch_failed_download_leaves_nothing(tmp_path):
    dest = tmp_path / "ff"
    with pytest.raises(ForceFieldError, match="download"):
        fetch_forcefield("ZnN_2016", url=(tmp_path / "absent").as_uri(), dest_dir=dest)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_cli_fetch_and_list(znn_ffield, tmp_path, capsys):
    dest = tmp_path / "ff"
    assert cli_main(["forcefield", "fetch", "ZnN_2016", "--url", znn_ffield.resolve().as_uri(),
                     "--dir", str(dest)]) == 0
    assert cli_main(["forcefield", "list", "--dir", str(dest)]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert "sha256 verified" in out and "verified" in listed["ZnN_2016"]
    assert "NequIP_ZIF4" in listed  # the registry also knows the deployed NequIP model
    assert cli_main(["forcefield", "fetch", "NoSuch"]) == 1
