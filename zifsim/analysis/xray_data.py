"""Readers of measured X-ray total-scattering curves: PDFgetX3, RMCProfile-style, plain columns.

Every file gives a :class:`MeasuredCurve` whose ``kind`` (docs/xray.md) comes from
the file's header or name convention, or from an explicit ``kind=`` option; never
from a guess. Kinds:

====== ===================================== ====== ======================================
kind   function                              x      y unit
====== ===================================== ====== ======================================
D      D(r) = 4πρ r G(r)                     r, Å   Å⁻² (PDFgetX3 ``.gr`` "G(r)", RMCProfile ``.dofr``)
Gk     G(r) = Σ w_ab (g_ab - 1)              r, Å   –   (Keen / RMCProfile G(r))
S      S(Q)                                  Q, Å⁻¹ –   (PDFgetX3 ``.sq``)
FQ     F(Q) = Q [S(Q) - 1]                   Q, Å⁻¹ Å⁻¹ (PDFgetX3 ``.fq``)
Fk     F(Q) = S(Q) - 1                       Q, Å⁻¹ –   (Keen / RMCProfile ``.int01``)
I      I(Q) raw intensity                    Q, Å⁻¹ a.u. (PDFgetX3 ``.iq``; read, not fitted)
====== ===================================== ====== ======================================

"G" and "F" alone are refused (they mean different functions in PDFgetX3 and
RMCProfile); so are files whose header contradicts the option, files without
numbers, non-monotonic x, NaN, and x in nm⁻¹ or nm without ``x_unit`` (Q above 60, r above
500, or r-space data whose first strong peak lies below 0.8 Å).

A ``.gr``/``.fq``/``.sq``/``.iq`` file without a PDFgetX3 header (plain columns) gets its
kind from the extension, PDFgetX3's own naming convention; ``kind_from`` says so and a
warning is logged (give ``kind=`` to override).
"""
from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np

from zifsim.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["MeasuredCurve", "read_measured", "KINDS", "canonical_kind"]

#: kind -> (space, x label, y unit)
KINDS = {
    "D": ("r", "r (Å)", "Å⁻²"),
    "Gk": ("r", "r (Å)", ""),
    "S": ("Q", "Q (Å⁻¹)", ""),
    "FQ": ("Q", "Q (Å⁻¹)", "Å⁻¹"),
    "Fk": ("Q", "Q (Å⁻¹)", ""),
    "I": ("Q", "Q (Å⁻¹)", "a.u."),
}
_ALIASES = {"d": "D", "dr": "D", "d(r)": "D", "pdfgetx3-g": "D", "gr-pdfgetx3": "D",
            "gk": "Gk", "keen-g": "Gk", "rmc-g": "Gk", "s": "S", "sq": "S", "s(q)": "S",
            "fq": "FQ", "pdfgetx3-f": "FQ", "qs-1": "FQ", "fk": "Fk", "keen-f": "Fk", "rmc-f": "Fk",
            "iq": "I", "i": "I", "s-1": "Fk"}
_AMBIGUOUS = {"g": "say D (D(r) = 4πρ r G(r), Å⁻², what PDFgetX3 calls G(r)) or Gk (Keen's dimensionless G(r))",
              "g(r)": "say D (PDFgetX3's G(r), Å⁻²) or Gk (Keen's dimensionless G(r))",
              "f": "say FQ (PDFgetX3's F(Q) = Q[S(Q)-1], Å⁻¹) or Fk (RMCProfile's F(Q) = S(Q)-1)",
              "f(q)": "say FQ (PDFgetX3's F(Q) = Q[S(Q)-1], Å⁻¹) or Fk (RMCProfile's F(Q) = S(Q)-1)"}
#: file-name conventions that fix the kind (documented formats, not guesses)
_EXTENSIONS = {".gr": ("D", "PDFgetX3 .gr"), ".fq": ("FQ", "PDFgetX3 .fq"), ".sq": ("S", "PDFgetX3 .sq"),
               ".iq": ("I", "PDFgetX3 .iq"), ".dofr": ("D", "RMCProfile .dofr"),
               ".int01": ("Fk", "RMCProfile .int01")}
_PDFGETX3_Y = {"G": "D", "F": "FQ", "S": "S", "I": "I"}


def canonical_kind(kind: str, source=None) -> str:
    """Canonical kind name (D, Gk, S, FQ, Fk, I) of a user's spelling; ambiguous ones refused."""
    k = str(kind).strip()
    if k in KINDS:
        return k
    low = k.lower()
    if low in _AMBIGUOUS:
        raise InputError(f"ambiguous function kind {kind!r}", source=source, where="--kind",
                         fix=_AMBIGUOUS[low])
    if low in _ALIASES:
        return _ALIASES[low]
    raise InputError(f"unknown function kind {kind!r}", source=source, where="--kind",
                     fix=f"use one of {', '.join(KINDS)} (docs/xray.md)")


@dataclasses.dataclass
class MeasuredCurve:
    """One measured curve: x (r in Å or Q in Å⁻¹), y in the kind's unit (see module table)."""

    x: np.ndarray
    y: np.ndarray
    kind: str
    source: str
    kind_from: str
    err: np.ndarray | None = None
    meta: dict = dataclasses.field(default_factory=dict)

    @property
    def space(self) -> str:
        """'r' or 'Q'."""
        return KINDS[self.kind][0]

    def as_kind(self, kind: str, rho: float | None = None) -> "MeasuredCurve":
        """The same data as another kind of the same space (S <-> FQ <-> Fk; D <-> Gk needs ``rho``, Å⁻³)."""
        kind = canonical_kind(kind, self.source)
        if kind == self.kind:
            return self
        if KINDS[kind][0] != self.space or "I" in (kind, self.kind):
            raise InputError(f"cannot turn {self.kind} into {kind}", source=self.source, where="kind",
                             fix="compare with a function of the same space (r: D, Gk; Q: S, FQ, Fk)")
        x = self.x
        if self.space == "Q":
            s1 = {"S": self.y - 1, "FQ": np.divide(self.y, x, out=np.zeros_like(self.y), where=x > 0),
                  "Fk": self.y}[self.kind]
            y = {"S": 1 + s1, "FQ": x * s1, "Fk": s1}[kind]
        else:
            if rho is None:
                raise InputError("D(r) <-> G(r) needs the number density", source=self.source, where="rho",
                                 fix="give the density of the sample (atoms/Å³)")
            g = self.y / (4 * np.pi * rho * np.where(x > 0, x, np.inf)) if self.kind == "D" else self.y
            y = 4 * np.pi * rho * x * g if kind == "D" else g
        return dataclasses.replace(self, y=y, kind=kind, kind_from=f"{self.kind_from}, converted to {kind}")


def _floats(line: str):
    parts = re.split(r"[,\s;]+", line.strip())
    return [float(p) for p in parts if p]


def _parse_pdfgetx3(lines, source):
    meta, labels, start = {}, None, None
    for n, line in enumerate(lines):
        s = line.strip()
        m = re.match(r"^([A-Za-z_][\w.]*)\s*=\s*(.*)$", s)
        if m and start is None:
            key, val = m.group(1).lower(), m.group(2).strip()
            try:
                meta[key] = float(val)
            except ValueError:
                meta[key] = val
        if s.startswith("#L"):
            labels = s[2:].split()
            start = n + 1
            break
    if labels is None:
        raise InputError("PDFgetX3 header without the '#L' column-label line", source=source,
                         fix="write the file with PDFgetX3 (it ends the header with '#### start data', '#S 1', "
                             "'#L r($\\AA$) G($\\AA^{-2}$)'), or read it as plain columns with --kind")
    if len(labels) < 2:
        raise InputError(f"'#L' line names {len(labels)} column(s)", source=source, where=start,
                         fix="the '#L' line must name x and y columns, e.g. '#L r($\\AA$) G($\\AA^{-2}$)'")
    x_lab, y_lab = labels[0], labels[1]
    y_sym = re.match(r"^([A-Za-z]+)", y_lab)
    kind = _PDFGETX3_Y.get(y_sym.group(1) if y_sym else "")
    if kind is None:
        raise InputError(f"unknown PDFgetX3 function {y_lab!r}", source=source, where=start,
                         fix="expected G, F, S or I in the '#L' line, or give --kind for plain columns")
    x_is_r = x_lab.lower().startswith("r")
    if x_is_r != (KINDS[kind][0] == "r"):
        raise InputError(f"'#L {x_lab} {y_lab}': x column does not match the function", source=source,
                         where=start, fix="check the file: G(r) needs r, F/S/I need Q")
    if "nm" in x_lab.lower():
        raise InputError(f"x in nm units ({x_lab})", source=source, where=start,
                         fix="convert to Å / Å⁻¹ (zifsim reads PDFgetX3 files in Å)")
    return kind, f"PDFgetX3 '#L {x_lab} {y_lab}' header", meta, start


def read_measured(path, kind: str | None = None, x_unit: str | None = None, columns=None) -> MeasuredCurve:
    """Read a measured curve; ``kind`` (see module table) must be given for plain column files.

    Formats: PDFgetX3 (``[DEFAULT]``/``key = value`` header, ``#L`` labels), RMCProfile-style
    (``#`` comment header, kind from the documented extension ``.dofr`` / ``.int01``, or ``kind``),
    plain whitespace/CSV columns (``kind`` required; ``#`` comments and one text header line
    allowed). ``x_unit``: "A" (default: Å or Å⁻¹) or "nm" (nm or nm⁻¹, converted).
    ``columns``: (x, y[, err]) 0-based column indices (default 0, 1 and 2 if present).
    Raises InputError naming the file and the fix for anything it cannot read unambiguously.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("measured data file not found", source=path, fix="check the path")
    try:
        text = path.read_text(errors="strict")
    except UnicodeDecodeError:
        raise InputError("not a text file", source=path,
                         fix="give a PDFgetX3 / RMCProfile / plain column text file") from None
    lines = text.splitlines()
    user_kind = canonical_kind(kind, path) if kind is not None else None
    is_pdfgetx3 = any(line.strip().startswith("#### start data") for line in lines[:400]) or \
        (lines and lines[0].strip() == "[DEFAULT]")
    meta = {}
    start = 0
    if is_pdfgetx3:
        file_kind, kind_from, meta, start = _parse_pdfgetx3(lines, path)
        meta["format"] = "PDFgetX3"
    else:
        file_kind, kind_from = _EXTENSIONS.get(path.suffix.lower(), (None, None))
        meta["format"] = "RMCProfile-style" if file_kind else "columns"
        if kind_from and kind_from.startswith("PDFgetX3"):  # plain columns named like PDFgetX3 output
            meta["format"] = "columns"
            if user_kind:  # only a name, no header: the explicit kind decides
                file_kind, kind_from = None, None
            else:
                kind_from = f"file extension {path.suffix} (PDFgetX3 naming; no PDFgetX3 header in the file)"
                log.warning("%s: no PDFgetX3 header; kind %s taken from the extension %s "
                            "(give --kind / kind= if that is wrong)", path, file_kind, path.suffix)
    if user_kind and file_kind and user_kind != file_kind:
        raise InputError(f"--kind {user_kind} but the file is {file_kind} ({kind_from})", source=path,
                         where="--kind", fix=f"drop --kind or give --kind {file_kind}")
    the_kind = user_kind or file_kind
    if the_kind is None:
        raise InputError("the file does not say which function it holds", source=path,
                         fix=f"give the kind explicitly (--kind / kind=): one of {', '.join(KINDS)} "
                             "(docs/xray.md: D = PDFgetX3 G(r) in Å⁻², Fk = RMCProfile F(Q) = S-1)")
    if user_kind and not file_kind:
        kind_from = "explicit option"
    rows, row_lines, header_text = [], [], 0
    for n, line in enumerate(lines[start:], start=start + 1):
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("!") or s.startswith("@"):
            continue
        try:
            vals = _floats(s)
        except ValueError:
            if not rows and header_text == 0 and not is_pdfgetx3:
                header_text = n  # one column-title line before the numbers is allowed
                meta["column_titles"] = s
                continue
            raise InputError(f"line {n} is not numbers: {s[:60]!r}", source=path, where=n,
                             fix="remove the line or mark it as a comment with '#'") from None
        rows.append(vals)
        row_lines.append(n)
    if len(rows) < 5:
        raise InputError(f"{len(rows)} data rows", source=path,
                         fix="the file needs at least 5 rows of numbers (x y [err])")
    width = min(len(r) for r in rows)
    if width != max(len(r) for r in rows):
        raise InputError("rows have different numbers of columns", source=path,
                         fix="every data row needs the same columns (x y [err])")
    cols = tuple(columns) if columns is not None else ((0, 1, 2) if width >= 3 else (0, 1))
    if width < 2 or max(cols) >= width:
        raise InputError(f"{width} column(s), columns {cols} asked", source=path,
                         fix="give x and y columns (and optionally an error column)")
    data = np.array(rows, float)
    x, y = data[:, cols[0]], data[:, cols[1]]
    err = data[:, cols[2]] if len(cols) > 2 else None
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("NaN or infinite values", source=path, fix="remove or fill the bad rows")
    if not np.all(np.diff(x) > 0):
        bad = int(np.flatnonzero(np.diff(x) <= 0)[0]) + 1
        raise InputError(f"x column is not strictly increasing ({x[bad]:g} after {x[bad - 1]:g})", source=path,
                         where=row_lines[bad],
                         fix="sort the rows by r or Q and remove duplicates (or choose --columns)")
    if x_unit not in (None, "A", "Å", "nm"):
        raise InputError(f"x unit {x_unit!r}", source=path, where="x_unit", fix="use 'A' (Å, Å⁻¹) or 'nm'")
    if x_unit == "nm":
        x = x * 10.0 if KINDS[the_kind][0] == "r" else x / 10.0
        if the_kind == "FQ":
            y = y / 10.0
        if the_kind == "D":
            y = y / 100.0
    space = KINDS[the_kind][0]
    if space == "Q" and x_unit is None and x.max() > 60:
        raise InputError(f"Q up to {x.max():g}: looks like nm⁻¹ or 2θ, not Å⁻¹", source=path,
                         fix="give x_unit='nm' (--x-unit nm) for nm⁻¹, or convert 2θ to Q = 4π sinθ/λ")
    if space == "r" and x_unit is None and x.max() > 500:
        raise InputError(f"r up to {x.max():g}", source=path, fix="r must be in Å (or give --x-unit nm)")
    strong = (y[1:-1] >= y[:-2]) & (y[1:-1] >= y[2:]) & (y[1:-1] >= 0.5 * y.max()) if y.max() > 0 else []
    if space == "r" and x_unit is None and np.any(strong):
        # the first strong peak (a local maximum above half the largest) of any material lies
        # beyond 0.8 Å (C-H 1.09, C-N 1.35, Zn-N 2.0 Å); with r in nm it is at 0.1-0.2
        r_first = float(x[1:-1][np.argmax(strong)])
        if r_first < 0.8:
            raise InputError(f"the first strong peak of the {the_kind}(r) data is at r = {r_first:g}: "
                             "below any bond length in Å, so r is probably in nm", source=path,
                             fix="give --x-unit nm (x_unit='nm') if r is in nm, or convert r to Å")
    if space == "Q":
        meta.setdefault("q_range", [float(x[0]), float(x[-1])])
    return MeasuredCurve(x=x, y=y, kind=the_kind, source=str(path), kind_from=kind_from, err=err, meta=meta)
