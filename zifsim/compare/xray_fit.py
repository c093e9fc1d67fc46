"""Score a model against a measured X-ray curve: same processing, best scale, Rw, overlay.

The simulated curve gets the measurement's own processing (docs/xray.md): for
r-space data (D, Gk) the model's S(Q) over the data's Q range [Qmin, Qmax], with or
without a Lorch M(Q) as the data were made, transformed back to r
(:meth:`zifsim.analysis.xray.XrayPDF.measured_D`); for Q-space data (S, FQ, Fk) the
model's S(Q) on the data's Q points. Then the best scale s (and optionally a flat
offset c) by least squares over the fit range, and

    Rw = sqrt( Σ (y_exp - s·y_sim - c)² / Σ y_exp² )   over the fit range.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from zifsim.analysis.xray import DEFAULT_R_WINDOW
from zifsim.analysis.xray_data import KINDS, MeasuredCurve, read_measured
from zifsim.errors import InputError
from zifsim.fileio import atomic_open, write_json

__all__ = ["fit_scale", "q_range_for", "model_curve", "XrayFit", "compare_xray", "write_fit", "xray_report",
           "load_experiments", "read_experiment_files", "resolve_data_path", "plot_overlay", "load_frames",
           "model_from_analysis"]


#: where the caller's user sets the fit range and the model RDF range (error messages name them)
CLI_HINTS = {"fit_range": "--fit-range", "r_max": "--r-max"}


def fit_scale(y_exp: np.ndarray, y_sim: np.ndarray, offset: bool = False, source=None,
              fit_range_hint: str = CLI_HINTS["fit_range"]) -> dict:
    """Least-squares scale s (and offset c) of y_sim onto y_exp; Rw as in the module docstring.

    ``source`` (the measured file) and ``fit_range_hint`` (the setting of the fit range in the
    caller's context) only go into the error message."""
    y_exp, y_sim = np.asarray(y_exp, float), np.asarray(y_sim, float)
    if len(y_exp) < 3:
        raise InputError(f"{len(y_exp)} points in the fit range", source=source, where=fit_range_hint,
                         fix=f"widen the fit range ({fit_range_hint}) so it holds measured points")
    if offset:
        a = np.column_stack([y_sim, np.ones_like(y_sim)])
        (s, c), *_ = np.linalg.lstsq(a, y_exp, rcond=None)
    else:
        den = float(np.dot(y_sim, y_sim))
        s, c = (float(np.dot(y_sim, y_exp)) / den if den > 0 else 0.0), 0.0
    resid = y_exp - s * y_sim - c
    rw = float(np.sqrt(np.sum(resid ** 2) / np.sum(y_exp ** 2)))
    return {"rw": rw, "scale": float(s), "offset": float(c), "n_points": int(len(y_exp))}


def q_range_for(measured: MeasuredCurve, q_range=None) -> tuple[tuple[float, float], str]:
    """Q range (Å⁻¹) an r-space curve was made from, and where it came from.

    Order: explicit ``q_range``; the file's header (PDFgetX3 ``qmin``/``qmax``); the Q
    range of a companion F(Q) file with the same stem (RMCProfile ``.int01`` next to a
    ``.dofr``). Otherwise refused: the processing must be known, not guessed.
    """
    if q_range is not None:
        lo, hi = map(float, q_range)
        if not 0 <= lo < hi:
            raise InputError(f"Q range {lo}-{hi}", where="--q-range", fix="give 0 <= QMIN < QMAX (Å⁻¹)")
        return (lo, hi), "option"
    meta = measured.meta
    if isinstance(meta.get("qmax"), float):
        return (float(meta.get("qmin", 0.0) if isinstance(meta.get("qmin"), float) else 0.0),
                float(meta["qmax"])), "file header (qmin/qmax)"
    src = Path(measured.source)
    for ext in (".int01", ".fq", ".sq"):
        companion = src.with_suffix(ext)
        if companion.is_file():
            c = read_measured(companion)
            return (float(c.x[0]), float(c.x[-1])), f"Q range of {companion.name}"
    raise InputError("the Q range the r-space data were made from is unknown", source=src,
                     where="--q-range",
                     fix="give --q-range QMIN QMAX (Å⁻¹), or keep the F(Q) file with the same stem beside it")


def model_curve(xpdf, measured: MeasuredCurve, q_range=None, lorch: bool = False,
                r_window: str = DEFAULT_R_WINDOW):
    """Model curve on the measured x, processed like the data; returns (y_sim, processing dict)."""
    kind = measured.kind
    if kind == "I":
        raise InputError("raw I(Q) cannot be compared with a model", source=measured.source, where="kind",
                         fix="compare S(Q) (.sq), F(Q) (.fq) or G(r) (.gr) from PDFgetX3 instead")
    if measured.space == "r":
        (q_lo, q_hi), q_from = q_range_for(measured, q_range)
        x = measured.x
        d = xpdf.measured_D(q_lo, q_hi, lorch, r=x)
        if kind == "D":
            y = d
        else:  # Gk
            y = np.divide(d, 4 * np.pi * xpdf.rho * x, out=np.zeros_like(d), where=x > 0)
        proc = {"q_range_invA": [q_lo, q_hi], "q_range_from": q_from, "lorch": bool(lorch),
                "low_q": xpdf.low_q_used}  # what measured_D actually used for [0, q_lo)
        return y, proc
    s1 = xpdf.s_minus_1(measured.x, r_window)
    y = {"S": 1 + s1, "FQ": measured.x * s1, "Fk": s1}[kind]
    return y, {"r_window": r_window, "r_max_A": xpdf.r_max}


def load_frames(source, stage: str | None = None, every: int = 1, frames: str | None = None):
    """Frames of a structure file or of one stage of a run directory, and a description of them.

    ``stage``: stage folder or name (default: the last stage); ``frames``: "START:STOP"
    indices within the stage after ``every`` (Python slice, default all).
    """
    from zifsim.analysis.trajectory import is_run_dir, iter_run, iter_structure_frames, run_stages
    source = Path(source)
    if is_run_dir(source):
        stages = [st for st in run_stages(source) if (st["dir"] / "traj.lammpstrj").is_file()]
        if not stages:
            raise InputError("run directory without trajectories", source=source,
                             fix="give a run folder with NN-stage/traj.lammpstrj, or a structure file")
        names = {st["dir"].name: st for st in stages} | {st["name"]: st for st in stages}
        if stage is None:
            chosen = stages[-1]
        elif stage in names:
            chosen = names[stage]
        else:
            raise InputError(f"no stage {stage!r}", source=source, where="--stage",
                             fix=f"choose one of {', '.join(st['dir'].name for st in stages)}")
        sel = [f for f in iter_run(source, every=every) if f.stage in (chosen["dir"].name, chosen["name"])]
        desc = {"kind": "run", "stage": chosen["dir"].name}
    elif source.is_file():
        sel = list(iter_structure_frames(source))
        desc = {"kind": "structure"}
    else:
        raise InputError("not a run directory or structure file", source=source,
                         fix="give RUNDIR (NN-stage/traj.lammpstrj) or a CIF/extxyz/data file")
    if frames:
        try:
            parts = [int(p) if p else None for p in frames.split(":")]
            sel = sel[slice(*parts)]
        except (ValueError, TypeError):
            raise InputError(f"--frames {frames!r}", where="--frames", fix="give START:STOP (e.g. -20: for the last 20)") \
                from None
    if not sel:
        raise InputError("no frames selected", source=source, where="--frames/--stage", fix="select at least one frame")
    desc.update({"n_frames": len(sel), "every": every, "frames": frames,
                 "steps": [int(sel[0].step), int(sel[-1].step)], "n_atoms": sel[0].n_atoms})
    return sel, desc


def model_from_analysis(adir, summary: dict | None = None, q_max: float = 24.0, norm: str = "fz"):
    """The XrayPDF of the last stage of an analysis folder (``zifsim analyse``): rdf.csv partials,
    xray_lattice.csv low-Q lines and ``summary.json["xray_model"]`` (density, composition)."""
    import types

    import pandas as pd
    from zifsim.analysis.xray import LowQLattice, XrayPDF
    adir = Path(adir)
    if summary is None:
        import json
        summary = json.loads((adir / "summary.json").read_text())
    info = summary.get("xray_model")
    if not info or not (adir / "rdf.csv").is_file():
        raise InputError("analysis folder without the X-ray model (rdf.csv, summary xray_model)", source=adir,
                         fix="re-run `zifsim analyse` with this zifsim version")
    t = pd.read_csv(adir / "rdf.csv")
    partials = {tuple(c[2:].split("-", 1)): t[c].to_numpy(float) for c in t.columns
                if c.startswith("g_") and c != "g_total"}
    conc = info["concentrations"]
    r = t["r_A"].to_numpy(float)
    rdf = types.SimpleNamespace(r=r, dr=float(r[1] - r[0]), partials=partials, concentrations=conc,
                                counts=info["counts"], number_density=float(info["number_density_A3"]),
                                elements=list(conc))
    lattice = None
    if (adir / "xray_lattice.csv").is_file():
        lattice = LowQLattice.from_table(pd.read_csv(adir / "xray_lattice.csv"), conc)
    return XrayPDF(q_max=q_max, dq=0.01, norm=norm).compute(rdf, lattice)


@dataclasses.dataclass
class XrayFit:
    """Result of one comparison (everything in fit.json)."""

    measured: MeasuredCurve
    x: np.ndarray
    y_sim: np.ndarray
    fit: dict
    fit_range: tuple
    processing: dict
    frames: dict
    label: str = "simulation"

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {"rw": self.fit["rw"], "scale": self.fit["scale"], "offset": self.fit["offset"],
                "n_points": self.fit["n_points"], "fit_range": list(self.fit_range),
                "kind": self.measured.kind, "space": self.measured.space, "kind_from": self.measured.kind_from,
                "measured": self.measured.source, "processing": self.processing, "frames": self.frames,
                "label": self.label,
                "definition": "Rw = sqrt(sum (y_exp - s*y_sim - c)^2 / sum y_exp^2) over fit_range"}

    def table(self):
        """x, measured, scaled simulated, difference (CSV)."""
        import pandas as pd
        s, c = self.fit["scale"], self.fit["offset"]
        xname = "r_A" if self.measured.space == "r" else "Q_invA"
        sim = s * self.y_sim + c
        lo, hi = self.fit_range
        return pd.DataFrame({xname: self.x, "measured": self.measured.y, "simulated_scaled": sim,
                             "difference": self.measured.y - sim,
                             "in_fit_range": (self.x >= lo) & (self.x <= hi)})


def compare_xray(xpdf, measured: MeasuredCurve, fit_range, q_range=None, lorch: bool = False,
                 offset: bool = False, r_window: str = DEFAULT_R_WINDOW, frames: dict | None = None,
                 label: str = "simulation", hints: dict | None = None) -> XrayFit:
    """Model (a computed XrayPDF) against ``measured`` over ``fit_range`` (Å or Å⁻¹).

    ``hints``: {"fit_range": ..., "r_max": ...}, the settings the caller's user changes
    (default the compare-xray options, :data:`CLI_HINTS`), named in the error messages.
    """
    hints = {**CLI_HINTS, **(hints or {})}
    lo, hi = map(float, fit_range)
    if not lo < hi:
        raise InputError(f"fit range {lo}-{hi}", source=measured.source, where=hints["fit_range"],
                         fix="give LOW < HIGH")
    x = measured.x
    if measured.space == "r" and hi > xpdf.r_max:
        raise InputError(f"fit range to {hi} Å but the model RDF stops at {xpdf.r_max:.3g} Å",
                         source=measured.source, where=hints["r_max"],
                         fix=f"give {hints['r_max']} of at least {hi + 5:g} Å, or end the fit range "
                             f"({hints['fit_range']}) below {xpdf.r_max:.3g} Å")
    y_sim, proc = model_curve(xpdf, measured, q_range, lorch, r_window)
    sel = (x >= lo) & (x <= hi)
    fit = fit_scale(measured.y[sel], y_sim[sel], offset, source=measured.source, fit_range_hint=hints["fit_range"])
    proc.update({"norm": xpdf.norm, "r_max_A": xpdf.r_max})
    return XrayFit(measured, x, y_sim, fit, (lo, hi), proc, frames or {}, label)


def plot_overlay(fits, path, title: str = ""):
    """Measured, scaled simulated and difference curves, Rw in the legend; one panel per fit."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from zifsim.analysis.plots import save_figure
    fits = list(fits)
    fig, axes = plt.subplots(1, len(fits), figsize=(6.5 * len(fits), 4.2), squeeze=False)
    for ax, f in zip(axes[0], fits):
        t = f.table()
        xname = t.columns[0]
        span = (t.measured.max() - t.measured.min()) or 1.0
        shift = t.measured.min() - 0.15 * span - t.difference.max()
        ax.plot(t[xname], t.measured, "k-", lw=1.2, label="measured")
        ax.plot(t[xname], t.simulated_scaled, "-", color="tab:red", lw=1.0,
                label=f"{f.label} (s = {f.fit['scale']:.3g}), Rw = {f.fit['rw']:.3f}")
        ax.plot(t[xname], t.difference + shift, "-", color="tab:blue", lw=0.8, label="difference (shifted)")
        ax.axvspan(*f.fit_range, color="0.9", zorder=0, label=f"fit range {f.fit_range[0]:g}-{f.fit_range[1]:g}")
        ax.set_xlabel("r (Å)" if f.measured.space == "r" else "Q (Å⁻¹)")
        unit = KINDS[f.measured.kind][2]
        ax.set_ylabel(f"{f.measured.kind}" + (f" ({unit})" if unit else ""))
        if f.measured.space == "r":
            ax.set_xlim(0, max(f.fit_range[1] * 1.5, 10))
        ax.legend(fontsize=7)
        ax.set_title(Path(f.measured.source).name, fontsize=8)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def write_fit(fits, out, title: str = "") -> dict:
    """DIR/fit.json (first fit at the top level, all under "fits"), DIR/fit.csv, DIR/overlay.png."""
    out = Path(out)
    fits = list(fits)
    out.mkdir(parents=True, exist_ok=True)
    res = dict(fits[0].to_dict())
    if len(fits) > 1:
        res["fits"] = [f.to_dict() for f in fits]
    tables = []
    for k, f in enumerate(fits):
        t = f.table()
        t.insert(0, "curve", k)
        tables.append(t)
    import pandas as pd
    with atomic_open(out / "fit.csv") as fh:
        pd.concat(tables, ignore_index=True).to_csv(fh, index=False, float_format="%.6g")
    plot_overlay(fits, out / "overlay.png", title)
    write_json(out / "fit.json", res)
    return res



# ---------------------------------------------------------------------- report: measured files per material
#: config keys of measured files: xray_<kind>
XRAY_KEYS = {f"xray_{k}": k for k in ("D", "Gk", "S", "FQ", "Fk")}
DEFAULT_FIT = {"r": (1.0, 8.0), "Q": (0.6, 20.0)}


def load_experiments(spec) -> dict:
    """Measured X-ray files per material: a dict, a YAML/JSON file (its ``experiments`` key or the
    mapping itself) or an inline JSON string. ``{material: {xray_D: PATH, xray_Fk: PATH, T_C: 31,
    state: glass|crystal|liquid, fit_range_r: [1, 8], fit_range_Q: [0.6, 20], lorch: false}}``."""
    import json as _json
    if spec is None or spec == "":
        return {}
    if isinstance(spec, dict):
        data = spec
    else:
        text = str(spec).strip()
        if text.startswith("{"):
            data = _json.loads(text)
        else:
            path = Path(text)
            if not path.is_file():
                raise InputError("experiments file not found", source=path, fix="give a YAML/JSON file")
            import yaml
            data = yaml.safe_load(path.read_text()) or {}
    data = data.get("experiments", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise InputError("experiments must map material -> {xray_D: PATH, ...}", where="experiments",
                         fix="e.g. experiments: {ZIF-4: {xray_D: ../shared/.../ZIF4glassa_31.dofr, T_C: 31}}")
    for mat, entry in data.items():
        if not isinstance(entry, dict):
            raise InputError(f"experiments.{mat} is not a mapping", where=f"experiments.{mat}",
                             fix="give {xray_D: PATH, T_C: ..., state: glass}")
        unknown = set(entry) - set(XRAY_KEYS) - {"T_C", "state", "fit_range_r", "fit_range_Q", "lorch", "q_range",
                                                 "label", "ref"}
        if unknown:
            raise InputError(f"unknown key(s) {sorted(unknown)}", where=f"experiments.{mat}",
                             fix=f"measured files go under {', '.join(XRAY_KEYS)}; also T_C, state, fit_range_r, "
                                 "fit_range_Q, lorch, q_range, label, ref")
    return data


def resolve_data_path(path) -> Path | None:
    """A measured file: as given, else (relative paths) inside the reference folder
    (``$ZIFSIM_REFERENCE_DIR``, default ../shared/reference); None when neither exists."""
    p = Path(str(path)).expanduser()
    if p.is_file():
        return p
    if not p.is_absolute():
        from zifsim import settings
        q = settings.reference_dir() / p
        if q.is_file():
            return q
    return None


def read_experiment_files(experiments: dict) -> dict:
    """{material: [(key, MeasuredCurve | None, note)]}: malformed files raise InputError (before any
    output); a file that is not there is kept as None with a note (the report says it was not scored)."""
    out = {}
    for mat, entry in experiments.items():
        rows = []
        for key, kind in XRAY_KEYS.items():
            if key not in entry:
                continue
            path = resolve_data_path(entry[key])
            if path is None:
                rows.append((key, None, f"measured file {entry[key]} not found (here or in the reference folder)"))
                continue
            rows.append((key, read_measured(path, kind=kind), ""))
        out[mat] = rows
    return out


def _run_state(summary: dict) -> str:
    """State of the analysed (last) stage, in the words of ``experiments.<material>.state``.

    'glass': the run has a cooling stage (a quench; the last stage comes after it).
    'liquid': a run without cooling that melted on heating (a Lindemann ``Tm_K`` was
    found in a heating stage), so its last stage is the melt.
    'crystal': a structure, or a run without cooling in which no melting was found
    (a superheated crystal is still a crystal).
    """
    dirs = summary.get("stage_directions") or {}
    if any(d == "cooling" for d in dirs.values()):
        return "glass"
    if summary.get("kind") == "run" and summary.get("Tm_K") is not None \
            and any(d in ("heating", "reheating") for d in dirs.values()):
        return "liquid"
    return "crystal"


def xray_report(summaries: list[dict], experiments: dict, out, files: dict | None = None) -> dict:
    """For every material with measured files: Rw of every run (last stage) and one overlay PNG per material.

    ``files``: :func:`read_experiment_files` of ``experiments`` (read here when None).
    Returns {material: {"rows": [...], "png": name}}; rows hold run, file, kind, state, Rw, scale.
    """
    out = Path(out)
    files = read_experiment_files(experiments) if files is None else files
    res = {}
    for mat, entry in experiments.items():
        runs = [s for s in summaries if s["material"] == mat]
        if not runs:
            continue
        rows, fits = [], []
        for key, m, note in files.get(mat, []):
            if m is None:
                rows.append({"run": "–", "file": str(entry[key]), "error": note})
        measured = [(key, m) for key, m, _ in files.get(mat, []) if m is not None]
        if not measured:
            res[mat] = {"rows": rows, "png": None}
            continue
        state = str(entry.get("state", "glass"))
        for s in runs:
            try:
                model = model_from_analysis(s["adir"], s)
            except InputError as exc:
                rows.append({"run": s.get("adir"), "error": str(exc)})
                continue
            run_state = _run_state(s)
            for key, m in measured:
                rng = entry.get(f"fit_range_{m.space}", DEFAULT_FIT[m.space])
                try:
                    f = compare_xray(model, m, rng, q_range=entry.get("q_range"), lorch=bool(entry.get("lorch", False)),
                                     frames={"stage": s.get("xray_model", {}).get("stage"), "state": run_state},
                                     label=f"{s.get('protocol') or ''} rep{s.get('replica')} ({run_state})",
                                     hints={"fit_range": f"experiments.{mat}.fit_range_{m.space}",
                                            "r_max": "the analysis RDF range (zifsim analyse --r-max, "
                                                     "config analysis r_max_A)"})
                except InputError as exc:
                    rows.append({"run": s.get("adir"), "file": Path(m.source).name, "error": str(exc)})
                    continue
                fits.append(f)
                rows.append({"run": s.get("adir"), "protocol": s.get("protocol"), "replica": s.get("replica"),
                             "file": Path(m.source).name, "kind": m.kind, "fit_range": list(rng),
                             "run_state": run_state, "data_state": state, "T_C": entry.get("T_C"),
                             "like_with_like": run_state == state, "rw": f.fit["rw"], "scale": f.fit["scale"],
                             "stage": s.get("xray_model", {}).get("stage")})
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in mat)
        png = None
        if fits:
            png = f"xray_{safe}.png"
            _plot_report_overlay(fits, out / png, f"{mat}: X-ray, measured {state} at {entry.get('T_C', '?')} °C")
        res[mat] = {"rows": rows, "png": png}
    return res


def _plot_report_overlay(fits, path, title):
    """One panel per measured file: measured (black) and every run's scaled curve, Rw in the legend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from zifsim.analysis.plots import save_figure
    by_file = {}
    for f in fits:
        by_file.setdefault(f.measured.source, []).append(f)
    fig, axes = plt.subplots(1, len(by_file), figsize=(7 * len(by_file), 4.3), squeeze=False)
    for ax, (src, fs) in zip(axes[0], by_file.items()):
        m = fs[0].measured
        ax.plot(m.x, m.y, "k-", lw=1.3, label=f"measured {Path(src).name}")
        for f in fs:
            t = f.table()
            ax.plot(t.iloc[:, 0], t.simulated_scaled, lw=0.9, label=f"{f.label}: Rw {f.fit['rw']:.3f}")
            ax.plot(t.iloc[:, 0], t.difference - 0.6 * (m.y.max() - m.y.min()), lw=0.6, alpha=0.7)
        ax.axvspan(*fs[0].fit_range, color="0.92", zorder=0)
        ax.set_xlabel("r (Å)" if m.space == "r" else "Q (Å⁻¹)")
        ax.set_ylabel(m.kind + (f" ({KINDS[m.kind][2]})" if KINDS[m.kind][2] else ""))
        if m.space == "r":
            ax.set_xlim(0, 12)
        ax.legend(fontsize=7)
        ax.set_title("differences shifted below", fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)
