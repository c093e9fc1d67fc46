"""The materials registry: complete, typed, cited, and strict about typos."""
from __future__ import annotations

import re

import pytest

from zifsim.errors import ConfigError
from zifsim.registry import MATERIALS_FILE, load_materials, load_registry

ISSUE_MATERIALS = ["ZIF-4", "ZIF-62", "ZIF-8", "ZIF-Cu-1", "ZIF-4(Co)", "ZIF-70", "ZIF-zni",
                   "Cd(im)2", "Cd(im)2-x(bim)x", "ZIF-62(Co)", "TIF-4", "ZIF-76"]


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_every_issue_material_present(registry):
    for name in ISSUE_MATERIALS:
        assert registry.get(name).name


def test_load_materials_api():
    mats = load_materials()
    assert mats["ZIF-4"].source == {"core_mof": "VEJYUF01"}
    assert mats["ZIF-4"].linkers == {"im": 2.0} and mats["ZIF-4"].topology == "cag"
    assert mats["ZIF-62"].source["substitute"]["linker"] == {"from": "im", "to": "bim", "x": 0.25,
                                                             "order": "ordered"}
    assert mats["ZIF-4"].experiment["Tm_C"].value == 590 and mats["ZIF-4"].experiment["Tm_C"].unit == "°C"
    assert mats["ZIF-62"].experiment["Tg_C"].value == (318.0, 322.0)
    assert mats["ZIF-62"].experiment["Tg_C"].mid == 320.0


def test_providers_follow_force_field_coverage(registry):
    """ffield_ZnN_2016 covers Zn and Cu; Co and Cd need an MLIP."""
    for m in registry.materials.values():
        expected = "reaxff" if m.metal in ("Zn", "Cu") else "mlip"
        assert m.provider == expected, m.name


def test_every_fact_is_cited(registry):
    for m in registry.materials.values():
        for f in m.experiment.values():
            assert f.ref in registry.references, (m.name, f.key)


# facts taken from other documents than experimental-facts.md, or re-expressed
NOT_LITERAL = {("ZIF-62", "density_dft_ordered_gcm3"), ("ZIF-62", "viscosity_at_Tm_log10Pas")}


def test_facts_transcribed_from_the_facts_file(registry, reference_dir):
    """Every number in the registry appears verbatim in experimental-facts.md."""
    path = reference_dir / "experimental-facts.md"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    text = path.read_text()
    numbers = {float(x) for x in re.findall(r"\d+(?:\.\d+)?(?:e-?\d+)?", text)}
    missing = []
    for m in registry.materials.values():
        for key, f in m.experiment.items():
            if (m.name, key) in NOT_LITERAL:
                continue
            values = f.value if isinstance(f.value, tuple) else (f.value,)
            missing += [(m.name, key, v) for v in values if abs(v) not in numbers]
    assert not missing
    assert "10^5 Pa s" in text  # viscosity_at_Tm_log10Pas = 5
    assert "1.261" in (reference_dir / "README.md").read_text()  # density_dft_ordered_gcm3


def _write(tmp_path, old, new):
    text = MATERIALS_FILE.read_text()
    assert old in text
    path = tmp_path / "materials.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old,new,patterns", [
    ("    formula: Zn(im)2\n    topology: cag", "    formla: Zn(im)2\n    topology: cag",
     [r"unknown key 'formla' in material ZIF-4", r"materials\.ZIF-4\.formla, line \d+", "did you mean 'formula'"]),
    ("Tm_C: {value: 590, ref: MH22", "Tm: {value: 590, ref: MH22",
     [r"fact key 'Tm' of ZIF-4 has no unit suffix", "_C"]),
    ("Tg_C: {value: 292, ref: MH22", "Tg_C: {value: 292, ref: MH23",
     [r"cites unknown reference 'MH23'", "did you mean 'MH22'"]),
    ("    linkers: {im: 2.0}\n    source: {core_mof: VEJYUF01}", "    linkers: {im: 1.0}\n    source: {core_mof: VEJYUF01}",
     [r"linkers of ZIF-4 sum to 1.0, not 2 per metal"]),
    ("source: {core_mof: VEJYUF01}", "source: {core_mfo: VEJYUF01}",
     [r"source of ZIF-4 must name exactly one of", "did you mean 'core_mof'"]),
    ("    source: {core_mof: EQOCES01}\n    provider: mlip", "    source: {core_mof: EQOCES01}\n    provider: lammps",
     [r"unknown provider .lammps. for ZIF-4-Co"]),
    ("{parent: ZIF-4, substitute: {linker: {from: im, to: bim, x: 0.25",
     "{parent: ZIF-4, substitute: {linker: {from: im, to: bim, fraction: 0.25",
     [r"unknown key 'fraction' in linker substitution of ZIF-62"]),
    ("linkers: {im: 1.75, bim: 0.25}\n    source: {parent: ZIF-4",
     "linkers: {im: 1.75, bmi: 0.25}\n    source: {parent: ZIF-4", [r"unknown linker 'bmi' in ZIF-62"]),
])
def test_registry_typos_raise_config_error(tmp_path, old, new, patterns):
    with pytest.raises(ConfigError) as exc:
        load_registry(_write(tmp_path, old, new))
    msg = str(exc.value)
    assert "materials.yaml" in msg
    for pat in patterns:
        assert re.search(pat, msg), (pat, msg)


def test_broken_yaml_names_line(tmp_path):
    path = tmp_path / "materials.yaml"
    path.write_text("materials:\n  ZIF-4: {formula: [\n")
    with pytest.raises(ConfigError, match=r"materials\.yaml \(line \d+\): not valid YAML"):
        load_registry(path)
