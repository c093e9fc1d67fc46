"""Protocol YAML loading and validation (no LAMMPS)."""
from __future__ import annotations

import math

import pytest

from zifsim.errors import ConfigError
from zifsim.protocols import load_protocol
from zifsim.protocols.loader import PROTOCOL_DIR, stage_fingerprint
from zifsim.protocols.stages import Compress, Deform, Shear, Staircase

SHIPPED = ["tiny", "melt_quench_short", "reheat_short", "shear_short", "compress_short", "castel2022_zif4"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_protocols_load(name):
    protocol = load_protocol(name)
    assert protocol.stages and protocol.duration_ps > 0
    assert len(set(protocol.stage_dirs())) == len(protocol.stages)


@pytest.mark.parametrize("name", ["melt_quench_short", "reheat_short", "shear_short", "compress_short"])
def test_short_protocols_are_sized_for_minutes(name):
    """~3-5 min on 272 atoms at 50-100 steps/s: 12 000 - 30 000 MD steps."""
    protocol = load_protocol(name)
    steps = sum(round(s.total_ps * 1000 / s.timestep_fs) for s in protocol.stages)
    assert 12_000 <= steps <= 30_000


def test_castel_preset_matches_the_paper():
    protocol = load_protocol("castel2022_zif4")
    heat = next(s for s in protocol.stages if s.name == "heat")
    cool = next(s for s in protocol.stages if s.name == "cool")
    for st in protocol.stages:
        assert st.timestep_fs == 0.25 and st.tdamp_fs == 100 and st.pdamp_fs == 1000
    for stair, first, last in ((heat, 300, 1100), (cool, 1100, 300)):
        assert isinstance(stair, Staircase) and stair.ensemble == "npt" and stair.barostat == "iso"
        assert stair.pressure_bar == 0
        segs = stair.segments()
        assert len(segs) == 16                                   # 8 steps x (ramp + plateau)
        assert [s.duration_ps for s in segs] == [20.0] * 16
        assert segs[0].T_start_K == first and segs[-1].T_stop_K == last
        plateaus = [s.T_start_K for s in segs[1::2]]
        assert plateaus == sorted(plateaus, reverse=first > last)
        assert all(abs(b - a) == 100 for a, b in zip([first] + plateaus[:-1], plateaus))
    assert protocol.stages[-1].temperature_K == 300


def write(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def test_typo_in_key_names_key_line_and_allowed(tmp_path):
    path = write(tmp_path, "stages:\n  - name: a\n    type: equilibrate\n    temperture_K: 300\n    duration_ps: 1\n")
    with pytest.raises(ConfigError) as err:
        load_protocol(path)
    text = str(err.value)
    assert "temperture_K" in text and "line 4" in text and "temperature_K" in text and str(path) in text


def test_bad_choice_lists_allowed_values(tmp_path):
    path = write(tmp_path, "stages:\n  - {name: a, type: equilibrate, ensemble: nvp, temperature_K: 300, duration_ps: 1}\n")
    with pytest.raises(ConfigError) as err:
        load_protocol(path)
    assert "nvp" in str(err.value) and "nve, nvt, npt" in str(err.value) and "ensemble" in str(err.value)


def test_unknown_stage_type(tmp_path):
    path = write(tmp_path, "stages:\n  - {name: a, type: melt}\n")
    with pytest.raises(ConfigError, match="unknown stage type 'melt'.*\n.*minimise"):
        load_protocol(path)


def test_non_numeric_value(tmp_path):
    path = write(tmp_path, "stages:\n  - {name: a, type: hold, temperature_K: hot, duration_ps: 1}\n")
    with pytest.raises(ConfigError, match="temperature_K must be a float"):
        load_protocol(path)


def test_quench_must_cool_and_ramp_needs_rate_or_duration(tmp_path):
    path = write(tmp_path, "stages:\n  - {name: q, type: quench, T_start_K: 300, T_stop_K: 900, rate_K_per_ps: 10}\n")
    with pytest.raises(ConfigError, match="must be below"):
        load_protocol(path)
    path = write(tmp_path, "stages:\n  - {name: r, type: ramp, T_start_K: 300, T_stop_K: 900}\n")
    with pytest.raises(ConfigError, match="exactly one"):
        load_protocol(path)


def test_staircase_step_must_divide_span(tmp_path):
    path = write(tmp_path, "stages:\n  - {name: s, type: staircase, T_start_K: 300, T_stop_K: 1000, "
                           "T_step_K: 300, ramp_ps: 1}\n")
    with pytest.raises(ConfigError, match="whole number of steps"):
        load_protocol(path)


def test_yaml_syntax_error_names_line(tmp_path):
    path = write(tmp_path, "stages:\n  - {name: a, type: hold\n")
    with pytest.raises(ConfigError, match="YAML syntax error"):
        load_protocol(path)


def test_unknown_protocol_name_lists_known():
    with pytest.raises(ConfigError, match="tiny"):
        load_protocol("no_such_protocol")


def test_defaults_apply_and_stage_overrides(tmp_path):
    path = write(tmp_path, "defaults: {timestep_fs: 0.5, tdamp_fs: 50}\nstages:\n"
                           "  - {name: a, type: hold, temperature_K: 300, duration_ps: 1}\n"
                           "  - {name: b, type: hold, temperature_K: 300, duration_ps: 1, timestep_fs: 0.25}\n")
    a, b = load_protocol(path).stages
    assert (a.timestep_fs, b.timestep_fs, a.tdamp_fs) == (0.5, 0.25, 50)
    assert stage_fingerprint(a) != stage_fingerprint(b)


def test_ramp_rate_sets_duration():
    p = load_protocol({"stages": [{"name": "h", "type": "ramp", "T_start_K": 300, "T_stop_K": 1500,
                                   "rate_K_per_ps": 100}]})
    assert math.isclose(p.stages[0].total_ps, 12.0)


def test_reheat_includes_hold_in_total_time():
    p = load_protocol({"stages": [{"name": "r", "type": "reheat", "T_start_K": 300, "T_stop_K": 500,
                                   "rate_K_per_ps": 100, "hold_ps": 3}]})
    segs = p.stages[0].segments()
    assert [s.label for s in segs] == ["ramp 300->500 K", "hold 500 K"]
    assert math.isclose(p.duration_ps, 5.0)


def test_shear_and_compress_waveforms():
    sine = Deform("xy", "ly", "sine", amplitude=0.1, period_ps=2.0)
    assert math.isclose(sine.strain(0.5), 0.1) and abs(sine.strain(2.0)) < 1e-12
    tri = Deform("x", "lx", "triangle", amplitude=0.05, period_ps=1.0)
    assert tri.strain(0.0) == 0 and math.isclose(tri.strain(0.5), -0.05) and abs(tri.strain(1.0)) < 1e-12
    assert math.isclose(tri.strain(0.25), -0.025)
    c = Compress(name="c", mode="hydrostatic", strain_amplitude=0.05, strain_rate_per_ps=0.1, cycles=2)
    assert math.isclose(c.period_ps, 1.0) and math.isclose(c.total_ps, 2.0)
    assert {d.param for d in c.segments()[0].deform} == {"x", "y", "z"}
    s = Shear(name="s", plane="xz", strain_amplitude=0.1, period_ps=1.0, cycles=3)
    assert s.segments()[0].deform[0].ref == "lz" and math.isclose(s.total_ps, 3.0)
    with pytest.raises(ConfigError, match="plane"):
        Shear(name="s", plane="xx", strain_amplitude=0.1, period_ps=1.0)


def test_protocol_dir_only_has_valid_files():
    for path in PROTOCOL_DIR.glob("*.yaml"):
        load_protocol(path)
