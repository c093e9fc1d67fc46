"""Protocol stages: small dataclasses in physical units, validated on creation.

Units: timestep and damping in fs, durations and periods in ps, temperatures
in K, pressures in bar, heating rates in K/ps, strain rates in 1/ps, strains
dimensionless (engineering). The engine converts to the provider's LAMMPS
units. Every MD stage is reduced to a list of :class:`Segment` (constant
ensemble, linear T and P targets, optional box deformation), which is all
the engine needs to know.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from zifsim.errors import ConfigError

ENSEMBLES = ("nve", "nvt", "npt")
BAROSTATS = ("iso", "aniso", "tri")

#: physical-sense limits checked when a protocol is loaded (the stated maxima of docs/protocols.md)
MIN_TIMESTEP_FS = 0.01        # below this no MD time step is meaningful (ReaxFF 0.1-0.5, MLIP 0.5-2 fs)
MAX_TIMESTEP_FS = 5.0         # above this H atoms (and most ZIF modes) are not integrated stably
MAX_TEMPERATURE_K = 10000.0   # every T target must lie in (0, MAX]
MAX_PRESSURE_BAR = 1.0e6      # |P| <= 100 GPa
MAX_STEPS_PER_STAGE = 1_000_000_000
MAX_CHECKPOINTS_PER_STAGE = 100_000


@dataclass(frozen=True)
class Deform:
    """A prescribed box deformation as a function of stage time tau (ps).

    ``param`` is the LAMMPS box parameter (x, y, z, xy, xz, yz); the change of it
    is ``strain(tau) * ref_length`` where ``ref_length`` is the stage-start value
    of ``ref`` (ly for xy, lz for xz/yz, the length itself for x/y/z).
    ``waveform``: ``sine`` (amplitude, period_ps), ``linear`` (rate_per_ps) or
    ``triangle`` (0 -> -amplitude -> 0 each period: compression / release).
    """
    param: str
    ref: str
    waveform: str
    amplitude: float = 0.0
    period_ps: float = 0.0
    rate_per_ps: float = 0.0

    def strain(self, tau_ps: float) -> float:
        """Engineering strain at stage time ``tau_ps`` (ps)."""
        if self.waveform == "sine":
            return self.amplitude * math.sin(2 * math.pi * tau_ps / self.period_ps)
        if self.waveform == "linear":
            return self.rate_per_ps * tau_ps
        u = (tau_ps % self.period_ps) / self.period_ps
        return -self.amplitude * (1.0 - abs(1.0 - 2.0 * u))

    def lammps_strain(self, tau: str) -> str:
        """The same function as a LAMMPS equal-style expression of ``tau`` (ps)."""
        if self.waveform == "sine":
            return f"{self.amplitude!r}*sin(2*PI*({tau})/{self.period_ps!r})"
        if self.waveform == "linear":
            return f"{self.rate_per_ps!r}*({tau})"
        u = f"((({tau})%{self.period_ps!r})/{self.period_ps!r})"
        return f"(-{self.amplitude!r}*(1.0-abs(1.0-2.0*{u})))"

    def lammps_rate(self, tau: str) -> str:
        """d(strain)/d(tau) in 1/ps as a LAMMPS expression."""
        if self.waveform == "sine":
            w = f"(2*PI/{self.period_ps!r})"
            return f"{self.amplitude!r}*{w}*cos({w}*({tau}))"
        if self.waveform == "linear":
            return f"{self.rate_per_ps!r}"
        u = f"((({tau})%{self.period_ps!r})/{self.period_ps!r})"
        return f"(-{self.amplitude!r}*2.0/{self.period_ps!r}*ternary(1.0-2.0*{u}>0,1,-1))"


@dataclass(frozen=True)
class Segment:
    """A stretch of MD with one ensemble and linear T/P targets (what the engine runs)."""
    duration_ps: float
    ensemble: str
    T_start_K: float | None = None
    T_stop_K: float | None = None
    P_start_bar: float | None = None
    P_stop_bar: float | None = None
    barostat: str | None = None        # iso | aniso | tri | "x y z" dims list for partial npt
    deform: tuple[Deform, ...] = ()
    label: str = ""


@dataclass
class Stage:
    """Common settings of every stage (all optional; protocol ``defaults`` fill them)."""
    name: str
    timestep_fs: float = 0.25
    tdamp_fs: float = 100.0
    pdamp_fs: float = 1000.0
    thermo_every_fs: float = 25.0
    dump_every_fs: float = 250.0
    checkpoint_every_ps: float = 5.0
    bonds_every_fs: float | None = None
    velocity: str = "auto"
    runaway_T_K: float | None = None

    type: ClassVar[str] = "stage"
    choices: ClassVar[dict[str, tuple]] = {"velocity": ("auto", "create", "keep")}
    is_md: ClassVar[bool] = True

    def __post_init__(self):
        for key, allowed in self.choices.items():
            value = getattr(self, key, None)
            if value is not None and value not in allowed:
                raise _bad(self, key, f"invalid value {value!r}", f"allowed values: {', '.join(map(str, allowed))}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise _bad(self, f.name, f"must be a finite number, got {value!r}",
                           f"give {f.name} as a plain finite number in the unit its name says")
        for key in ("timestep_fs", "tdamp_fs", "pdamp_fs", "thermo_every_fs", "dump_every_fs",
                    "checkpoint_every_ps"):
            if getattr(self, key) is not None and not getattr(self, key) > 0:
                raise _bad(self, key, f"must be > 0, got {getattr(self, key)!r}", "give a positive number")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name.endswith("_K") and f.name != "T_step_K" and not 0 < value <= MAX_TEMPERATURE_K:
                raise _bad(self, f.name, f"= {value!r} K is not a temperature an MD run can target",
                           f"give an absolute temperature in K, above 0 and at most {MAX_TEMPERATURE_K:g} K")
            if f.name.endswith("_bar") and abs(value) > MAX_PRESSURE_BAR:
                raise _bad(self, f.name, f"= {value!r} bar is beyond {MAX_PRESSURE_BAR:g} bar (100 GPa)",
                           "give the pressure in bar (1 GPa = 10000 bar)")
        if self.is_md and not MIN_TIMESTEP_FS <= self.timestep_fs <= MAX_TIMESTEP_FS:
            low = self.timestep_fs < MIN_TIMESTEP_FS
            raise _bad(self, "timestep_fs", f"= {self.timestep_fs!r} fs is {'below' if low else 'above'} "
                       f"{MIN_TIMESTEP_FS if low else MAX_TIMESTEP_FS:g} fs",
                       "use 0.1-0.5 fs for ReaxFF and 0.5-2 fs for an MLIP (timestep_fs is in femtoseconds)")
        self.validate()
        if self.is_md:
            self._check_steps()

    def _check_steps(self) -> None:
        """Refuse a stage whose step or checkpoint count is beyond the stated maxima."""
        nsteps = sum(round(s.duration_ps * 1000.0 / self.timestep_fs) for s in self.segments())
        if nsteps > MAX_STEPS_PER_STAGE:
            raise _bad(self, "duration_ps", f"{self.total_ps:g} ps at timestep_fs {self.timestep_fs:g} fs needs "
                       f"{nsteps:.3g} steps, more than the {MAX_STEPS_PER_STAGE:.0e} zifsim runs in one stage",
                       "shorten the stage (duration_ps, or a faster rate_K_per_ps) or split it into several; "
                       f"a larger timestep_fs (at most {MAX_TIMESTEP_FS:g} fs, 0.1-0.5 fs for ReaxFF) "
                       "needs fewer steps")
        every = max(1, round(self.checkpoint_every_ps * 1000.0 / self.timestep_fs))
        if nsteps / every > MAX_CHECKPOINTS_PER_STAGE:
            raise _bad(self, "checkpoint_every_ps", f"= {self.checkpoint_every_ps:g} ps gives "
                       f"{nsteps / every:.3g} checkpoints, more than {MAX_CHECKPOINTS_PER_STAGE}",
                       f"checkpoint less often (checkpoint_every_ps >= "
                       f"{self.total_ps / MAX_CHECKPOINTS_PER_STAGE:.3g} ps)")

    def validate(self) -> None:
        """Stage-specific checks (raise ConfigError)."""

    def segments(self) -> list[Segment]:
        """The MD segments this stage runs, in order."""
        raise NotImplementedError

    @property
    def total_ps(self) -> float:
        """Total simulated time of the stage (ps), all segments included."""
        return sum(s.duration_ps for s in self.segments())

    def max_temperature_K(self) -> float:
        """Highest target temperature (K) of the stage (for runaway detection)."""
        temps = [t for s in self.segments() for t in (s.T_start_K, s.T_stop_K) if t is not None]
        return max(temps) if temps else 300.0

    def to_dict(self) -> dict[str, Any]:
        """Resolved settings (for metadata and stage identity)."""
        return {"type": self.type, **dataclasses.asdict(self)}


def _bad(stage: Stage, key: str, message: str, fix: str) -> ConfigError:
    return ConfigError(f"stage {stage.name!r} ({stage.type}): {key} {message}",
                       where=f"stages.{stage.name}.{key}", fix=fix)


def _need(stage: Stage, *keys: str) -> None:
    for key in keys:
        if getattr(stage, key) is None:
            raise _bad(stage, key, "is required", f"add {key}: VALUE to the stage")


def _thermostat_fields(stage, ensemble: str) -> None:
    if ensemble in ("nvt", "npt") and stage.tdamp_fs is None:
        raise _bad(stage, "tdamp_fs", "is required", "give the thermostat damping time in fs")


@dataclass
class Minimise(Stage):
    """Energy minimisation (conjugate gradient), optionally relaxing the box.

    box_relax: none | iso | aniso | tri (fix box/relax to ``pressure_bar``).
    ftol_eV_per_A: force tolerance (eV/Å); etol: relative energy tolerance.
    """
    box_relax: str = "iso"
    pressure_bar: float = 0.0
    etol: float = 0.0
    ftol_eV_per_A: float = 1.0e-3
    max_iter: int = 1000
    max_eval: int = 10000
    vmax: float = 0.001

    type: ClassVar[str] = "minimise"
    choices: ClassVar[dict] = {**Stage.choices, "box_relax": ("none",) + BAROSTATS}
    is_md: ClassVar[bool] = False

    def segments(self) -> list[Segment]:
        return []

    def max_temperature_K(self) -> float:
        return 0.0


@dataclass
class Equilibrate(Stage):
    """Constant-temperature (and pressure) MD: ensemble nve | nvt | npt (barostat iso|aniso|tri)."""
    ensemble: str = "nvt"
    temperature_K: float | None = None
    pressure_bar: float = 0.0
    barostat: str = "iso"
    duration_ps: float | None = None

    type: ClassVar[str] = "equilibrate"
    choices: ClassVar[dict] = {**Stage.choices, "ensemble": ENSEMBLES, "barostat": BAROSTATS}

    def validate(self) -> None:
        _need(self, "duration_ps")
        if self.ensemble != "nve":
            _need(self, "temperature_K")
        _positive(self, "duration_ps")

    def segments(self) -> list[Segment]:
        npt = self.ensemble == "npt"
        return [Segment(self.duration_ps, self.ensemble, self.temperature_K, self.temperature_K,
                        self.pressure_bar if npt else None, self.pressure_bar if npt else None,
                        self.barostat if npt else None, label=self.ensemble)]


@dataclass
class Hold(Equilibrate):
    """Hold at a temperature (default NPT): the same as equilibrate, named for readability."""
    ensemble: str = "npt"
    type: ClassVar[str] = "hold"


@dataclass
class Ramp(Stage):
    """Linear temperature ramp T_start_K -> T_stop_K at rate_K_per_ps (or over duration_ps)."""
    T_start_K: float | None = None
    T_stop_K: float | None = None
    rate_K_per_ps: float | None = None
    duration_ps: float | None = None
    ensemble: str = "npt"
    pressure_bar: float = 0.0
    barostat: str = "iso"

    type: ClassVar[str] = "ramp"
    choices: ClassVar[dict] = {**Stage.choices, "ensemble": ("nvt", "npt"), "barostat": BAROSTATS}

    def validate(self) -> None:
        _need(self, "T_start_K", "T_stop_K")
        if (self.rate_K_per_ps is None) == (self.duration_ps is None):
            raise _bad(self, "rate_K_per_ps", "and duration_ps: give exactly one",
                       "set rate_K_per_ps (K/ps, > 0) or duration_ps (ps)")
        if self.rate_K_per_ps is not None:
            _positive(self, "rate_K_per_ps")
            if self.T_start_K == self.T_stop_K:
                raise _bad(self, "T_stop_K", "equals T_start_K", "use a hold stage for constant T")
            self.duration_ps = abs(self.T_stop_K - self.T_start_K) / self.rate_K_per_ps
        _positive(self, "duration_ps")

    def segments(self) -> list[Segment]:
        npt = self.ensemble == "npt"
        p = self.pressure_bar if npt else None
        return [Segment(self.duration_ps, self.ensemble, self.T_start_K, self.T_stop_K, p, p,
                        self.barostat if npt else None, label=f"ramp {self.T_start_K:g}->{self.T_stop_K:g} K")]


@dataclass
class Quench(Ramp):
    """Cooling ramp (T_stop_K < T_start_K) at a chosen rate (K/ps)."""
    type: ClassVar[str] = "quench"

    def validate(self) -> None:
        super().validate()
        if not self.T_stop_K < self.T_start_K:
            raise _bad(self, "T_stop_K", f"({self.T_stop_K}) must be below T_start_K ({self.T_start_K})",
                       "a quench cools; use ramp or reheat to heat")


@dataclass
class Reheat(Ramp):
    """Heat a glass (T_start_K -> T_stop_K at rate_K_per_ps), then hold hold_ps at T_stop_K.

    For cold crystallisation of a glass into a glass-ceramic.
    """
    hold_ps: float = 0.0
    type: ClassVar[str] = "reheat"

    def validate(self) -> None:
        super().validate()
        if not self.T_stop_K > self.T_start_K:
            raise _bad(self, "T_stop_K", f"({self.T_stop_K}) must be above T_start_K ({self.T_start_K})",
                       "a reheat heats; use quench to cool")
        if self.hold_ps < 0:
            raise _bad(self, "hold_ps", "must be >= 0", "give the hold time in ps")

    def segments(self) -> list[Segment]:
        out = super().segments()
        if self.hold_ps > 0:
            s = out[0]
            out.append(dataclasses.replace(s, duration_ps=self.hold_ps, T_start_K=self.T_stop_K,
                                           label=f"hold {self.T_stop_K:g} K"))
        return out


@dataclass
class Staircase(Stage):
    """Stepwise heating or cooling: per step of T_step_K a ramp_ps ramp and a plateau_ps plateau."""
    T_start_K: float | None = None
    T_stop_K: float | None = None
    T_step_K: float | None = None
    ramp_ps: float | None = None
    plateau_ps: float = 0.0
    ensemble: str = "npt"
    pressure_bar: float = 0.0
    barostat: str = "iso"

    type: ClassVar[str] = "staircase"
    choices: ClassVar[dict] = {**Stage.choices, "ensemble": ("nvt", "npt"), "barostat": BAROSTATS}

    def validate(self) -> None:
        _need(self, "T_start_K", "T_stop_K", "T_step_K", "ramp_ps")
        _positive(self, "T_step_K")
        _positive(self, "ramp_ps")
        n = abs(self.T_stop_K - self.T_start_K) / self.T_step_K
        if n < 1 or abs(n - round(n)) > 1e-6:
            raise _bad(self, "T_step_K", f"({self.T_step_K} K) does not divide "
                       f"|T_stop_K - T_start_K| = {abs(self.T_stop_K - self.T_start_K)} K into whole steps",
                       "choose T_step_K so the temperature span is a whole number of steps")
        if self.plateau_ps < 0:
            raise _bad(self, "plateau_ps", "must be >= 0", "give the plateau time in ps")

    def segments(self) -> list[Segment]:
        npt = self.ensemble == "npt"
        p = self.pressure_bar if npt else None
        n = int(round(abs(self.T_stop_K - self.T_start_K) / self.T_step_K))
        sign = 1 if self.T_stop_K > self.T_start_K else -1
        out = []
        for k in range(n):
            t0 = self.T_start_K + sign * k * self.T_step_K
            t1 = t0 + sign * self.T_step_K
            out.append(Segment(self.ramp_ps, self.ensemble, t0, t1, p, p, self.barostat if npt else None,
                               label=f"ramp {t0:g}->{t1:g} K"))
            if self.plateau_ps > 0:
                out.append(Segment(self.plateau_ps, self.ensemble, t1, t1, p, p,
                                   self.barostat if npt else None, label=f"plateau {t1:g} K"))
        return out


@dataclass
class Shear(Stage):
    """Milling-like simple shear at temperature_K via ``fix deform`` on a tilt factor.

    mode cyclic: strain_amplitude (engineering shear strain) and period_ps, for cycles;
    mode constant_rate: shear_rate_per_ps (1/ps) for duration_ps.
    barostat none: NVT at fixed box lengths; aniso: NPT on x y z while the tilt is driven.
    """
    plane: str = "xy"
    mode: str = "cyclic"
    temperature_K: float = 300.0
    strain_amplitude: float | None = None
    period_ps: float | None = None
    cycles: float = 1.0
    shear_rate_per_ps: float | None = None
    duration_ps: float | None = None
    barostat: str = "none"
    pressure_bar: float = 0.0

    type: ClassVar[str] = "shear"
    choices: ClassVar[dict] = {**Stage.choices, "plane": ("xy", "xz", "yz"),
                               "mode": ("cyclic", "constant_rate"), "barostat": ("none", "aniso")}

    def validate(self) -> None:
        if self.mode == "cyclic":
            _need(self, "strain_amplitude", "period_ps")
            _positive(self, "strain_amplitude")
            _positive(self, "period_ps")
            _positive(self, "cycles")
            self.duration_ps = self.cycles * self.period_ps
        else:
            _need(self, "shear_rate_per_ps", "duration_ps")
            _positive(self, "duration_ps")

    def segments(self) -> list[Segment]:
        ref = {"xy": "ly", "xz": "lz", "yz": "lz"}[self.plane]
        if self.mode == "cyclic":
            d = Deform(self.plane, ref, "sine", amplitude=self.strain_amplitude, period_ps=self.period_ps)
        else:
            d = Deform(self.plane, ref, "linear", rate_per_ps=self.shear_rate_per_ps)
        npt = self.barostat == "aniso"
        p = self.pressure_bar if npt else None
        return [Segment(self.duration_ps, "npt" if npt else "nvt", self.temperature_K, self.temperature_K,
                        p, p, "x y z" if npt else None, deform=(d,), label=f"shear {self.plane} {self.mode}")]


@dataclass
class Compress(Stage):
    """Compression / release cycles at temperature_K (0 -> -strain_amplitude -> 0 per cycle).

    mode uniaxial (along axis; lateral fixed, or free at pressure_bar) or hydrostatic
    (x, y, z together). strain_rate_per_ps: engineering strain rate (1/ps).
    """
    mode: str = "uniaxial"
    axis: str = "x"
    temperature_K: float = 300.0
    strain_amplitude: float | None = None
    strain_rate_per_ps: float | None = None
    cycles: float = 1.0
    lateral: str = "fixed"
    pressure_bar: float = 0.0

    type: ClassVar[str] = "compress"
    choices: ClassVar[dict] = {**Stage.choices, "mode": ("uniaxial", "hydrostatic"),
                               "axis": ("x", "y", "z"), "lateral": ("fixed", "free")}

    def validate(self) -> None:
        _need(self, "strain_amplitude", "strain_rate_per_ps")
        _positive(self, "strain_amplitude")
        _positive(self, "strain_rate_per_ps")
        _positive(self, "cycles")
        if self.strain_amplitude >= 0.5:
            raise _bad(self, "strain_amplitude", f"{self.strain_amplitude} is >= 0.5",
                       "give a compressive engineering strain below 0.5 (e.g. 0.1)")

    @property
    def period_ps(self) -> float:
        """Duration (ps) of one compression + release cycle."""
        return 2.0 * self.strain_amplitude / self.strain_rate_per_ps

    def segments(self) -> list[Segment]:
        axes = ("x", "y", "z") if self.mode == "hydrostatic" else (self.axis,)
        deforms = tuple(Deform(a, f"l{a}", "triangle", amplitude=self.strain_amplitude,
                               period_ps=self.period_ps) for a in axes)
        free = [a for a in "xyz" if a not in axes] if self.lateral == "free" else []
        p = self.pressure_bar if free else None
        return [Segment(self.cycles * self.period_ps, "npt" if free else "nvt", self.temperature_K,
                        self.temperature_K, p, p, " ".join(free) or None, deform=deforms,
                        label=f"compress {self.mode}")]


@dataclass
class Press(Stage):
    """Pressure-controlled compression and release at temperature_K (a press, or a ball impact).

    Per cycle: a linear pressure ramp P_base_bar -> P_max_bar over ramp_ps, hold_ps at
    P_max_bar, a linear release back to P_base_bar over release_ps (default ramp_ps),
    then rest_ps at P_base_bar. A zero duration skips that part: ``release_ps: 0`` ends
    the stage loaded (for a following shear under load), ``ramp_ps: 0`` starts loaded
    (to unload after it). NPT with barostat iso | aniso | tri (tri lets the cell
    shear, as a collapsing framework does). Pressures in bar (1 GPa = 10 000 bar).
    """
    temperature_K: float = 300.0
    P_max_bar: float | None = None
    P_base_bar: float = 0.0
    ramp_ps: float | None = None
    hold_ps: float = 0.0
    release_ps: float | None = None
    rest_ps: float = 0.0
    cycles: int = 1
    barostat: str = "tri"

    type: ClassVar[str] = "press"
    choices: ClassVar[dict] = {**Stage.choices, "barostat": BAROSTATS}

    def validate(self) -> None:
        _need(self, "P_max_bar", "ramp_ps")
        _positive(self, "temperature_K")
        if self.release_ps is None:
            self.release_ps = self.ramp_ps
        for key in ("ramp_ps", "hold_ps", "release_ps", "rest_ps"):
            if getattr(self, key) < 0:
                raise _bad(self, key, "must be >= 0", "give a time in ps (0 to skip)")
        if self.ramp_ps + self.hold_ps + self.release_ps + self.rest_ps <= 0:
            raise _bad(self, "ramp_ps", "and hold_ps, release_ps, rest_ps are all 0",
                       "give at least one positive duration in ps")
        if not self.P_max_bar > self.P_base_bar:
            raise _bad(self, "P_max_bar", f"({self.P_max_bar}) must be above P_base_bar ({self.P_base_bar})",
                       "give the peak pressure in bar (e.g. 20000 for 2 GPa)")
        if not (isinstance(self.cycles, int) and self.cycles >= 1):
            raise _bad(self, "cycles", f"must be a whole number >= 1, got {self.cycles!r}", "e.g. cycles: 2")

    def segments(self) -> list[Segment]:
        T, b, p0, p1 = self.temperature_K, self.barostat, self.P_base_bar, self.P_max_bar
        one = [Segment(self.ramp_ps, "npt", T, T, p0, p1, b, label=f"press {p0:g}->{p1:g} bar"),
               Segment(self.hold_ps, "npt", T, T, p1, p1, b, label=f"hold {p1:g} bar"),
               Segment(self.release_ps, "npt", T, T, p1, p0, b, label=f"release {p1:g}->{p0:g} bar"),
               Segment(self.rest_ps, "npt", T, T, p0, p0, b, label=f"rest {p0:g} bar")]
        return [s for _ in range(self.cycles) for s in one if s.duration_ps > 0]


def _positive(stage: Stage, key: str) -> None:
    value = getattr(stage, key)
    if value is None or not value > 0:
        raise _bad(stage, key, f"must be > 0, got {value!r}", "give a positive number")


#: stage classes by the ``type:`` key of the YAML
STAGE_TYPES: dict[str, type[Stage]] = {cls.type: cls for cls in
                                       (Minimise, Equilibrate, Hold, Ramp, Quench, Reheat, Staircase,
                                        Shear, Compress, Press)}
STAGE_TYPES["minimize"] = Minimise
