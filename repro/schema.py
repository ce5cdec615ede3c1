"""The claim-file contract: pydantic models, strict, with file:line errors.

``load_claim(path)`` returns a validated :class:`Claim` or raises :class:`ClaimError`
listing every problem with its file, line and key path. Unknown keys get a
"did you mean"; the experiment and its parameters are checked against the registry
(names, required parameters, types) for every scale and sweep point, so a typo fails
before anything runs.
"""

from __future__ import annotations

import difflib
import math
import typing
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from . import registry
from .errors import ClaimError, Problem
from .yamlload import YamlProblem, format_path, line_of, load_with_lines

ScaleName = Literal["smoke", "default", "paper"]
SCALES: tuple[str, ...] = typing.get_args(ScaleName)
Verdict = Literal["reproduced", "not_reproduced", "inconclusive", "error", "skipped", "invalid",
                  "reported"]
Aggregate = Literal["mean", "median"]
Op = Literal["within", "at_least", "at_most", "between", "loglog_slope", "monotone",
             "inside_band"]
Scalar = Union[bool, int, float, str]
Sweep = Union[dict[str, list[Scalar]], list[dict[str, Scalar]]]

# Which optional fields each op needs (required) and allows (optional).
OP_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "within": (frozenset({"ref", "tol"}), frozenset()),
    "at_least": (frozenset({"ref"}), frozenset({"margin"})),
    "at_most": (frozenset({"ref"}), frozenset({"margin"})),
    "between": (frozenset({"lo", "hi"}), frozenset()),
    "loglog_slope": (frozenset({"over", "target", "tol"}), frozenset()),
    "monotone": (frozenset({"over", "direction"}), frozenset({"margin"})),
    "inside_band": (frozenset({"lower", "upper"}), frozenset()),
}
OP_SPECIFIC = frozenset().union(*(r | o for r, o in OP_FIELDS.values()))


MAX_SEEDS = 10_000  # more is a typo, not a plan (and would plan millions of units)
# Units one claim run may plan (sweep points x seeds). The largest committed claim plans 90;
# each unit is a row of its record (about 1 KB) and at least a process call, so 10,000 is a
# 10 MB record and hours of work: beyond that a sweep is a typo (a 1000 x 1000 grid would
# plan millions and exhaust memory). Raise it with REPRO_MAX_UNITS=N for a real big sweep.
MAX_UNITS_DEFAULT = 10_000
SMOKE_TIMEOUT_S = 60.0  # a smoke unit takes seconds; a minute is a hang, not a slow CPU


def max_units() -> int:
    """The cap on units per claim run: ``$REPRO_MAX_UNITS`` or 10,000."""
    import os

    try:
        return int(os.environ.get("REPRO_MAX_UNITS", MAX_UNITS_DEFAULT))
    except ValueError:
        return MAX_UNITS_DEFAULT


def count_points(sweep: Sweep | None) -> int:
    """How many points a sweep expands to, without expanding it."""
    if not sweep:
        return 1
    if isinstance(sweep, list):
        return len(sweep)
    n = 1
    for vals in sweep.values():
        n *= len(vals)
    return n


def too_many_units(points: int, seeds: int) -> str | None:
    """A message when ``points`` x ``seeds`` units exceed the cap, else None."""
    cap = max_units()
    if points * seeds > cap:
        return (f"{points} sweep points x {seeds} seeds = {points * seeds} units, more than "
                f"the {cap} one run may plan (a typo in a sweep?); set REPRO_MAX_UNITS to "
                "raise the cap for a sweep that big")
    return None
# A `between` band at least this wide (hi - lo), a `within` tolerance or a margin at least
# this large is rejected unless the check declares `unbounded: true`: every metric the
# papers make claims about (accuracies, distances, correlations, losses, slopes, ratios)
# varies on a scale within a few orders of magnitude of 1, so a band 1e3 wide is one that
# cannot be left, i.e. a number someone wanted to show (a `report:` entry), not a claim.
# Exact counts far from 0 (a band [2256, 2256]) are narrow and pass.
VACUOUS_BOUND = 1e3


class _Strict(BaseModel):
    # NaN/inf are never a tolerance, bound or reference value
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class PaperRef(_Strict):
    title: str
    authors: str | None = None
    venue: str | None = None
    url: str | None = None
    where: str | None = Field(None, description="where in the paper the claim is made")


class Scale(_Strict):
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="parameter overrides for this scale")
    seeds: int | None = Field(None, ge=1, le=MAX_SEEDS,
                              description="overrides the claim's seeds")
    sweep: Sweep | None = Field(None, description="overrides the claim's sweep")
    requires: list[Literal["cuda"]] = Field(default_factory=list,
                                            description="hardware this scale needs")
    max_seeds: int | None = Field(None, ge=2, le=MAX_SEEDS,
                                  description="pre-registered maximum for --until-decided")
    timeout_s: float | None = Field(None, gt=0, description="seconds one unit may run before "
                                    "it is stopped as an error (smoke default: 60)")
    note: str | None = None


class Check(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    metric: str
    op: Op
    ref: str | float | None = Field(None, description="another metric's name, or a number")
    tol: float | None = Field(None, ge=0)
    margin: float | None = None
    lo: float | None = None
    hi: float | None = None
    target: float | None = None
    over: str | None = Field(None, description="the swept parameter (loglog_slope, monotone)")
    direction: Literal["increasing", "decreasing"] | None = None
    lower: str | float | None = None
    upper: str | float | None = None
    where: dict[str, Scalar] | None = Field(None, description="only sweep points matching")
    scales: list[ScaleName] | None = Field(None, description="scales this check applies to")
    paper: float | str | None = Field(None, description="the paper's own figure")
    aggregate: Aggregate | None = Field(
        None, description="pointwise ops: per seed, the mean or median of the statistic over "
                          "the points of `over` (paired by seed), judged once")
    unbounded: bool = Field(False, description="the statistic's natural range is wider than "
                            f"±{VACUOUS_BOUND:g}: allows bounds that large (argue it in why)")
    drift: float | None = Field(None, ge=0, description="`repro check`: how far the rerun's "
                                "mean may move (default: stay inside the committed interval)")
    why: str = Field(min_length=1, description="where the tolerance comes from")

    def applies_to(self, scale: str) -> bool:
        return self.scales is None or scale in self.scales


class ReportItem(_Strict):
    """A quantity measured and shown (mean and 95% interval over seeds), never judged."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    metric: str
    minus: str | None = Field(None, description="report metric − minus (paired by seed)")
    over: str | None = Field(None, description="with aggregate: the swept parameter")
    aggregate: Aggregate | None = None
    where: dict[str, Scalar] | None = None
    scales: list[ScaleName] | None = None
    paper: float | str | None = None
    why: str | None = Field(None, description="what the number shows")

    def applies_to(self, scale: str) -> bool:
        return self.scales is None or scale in self.scales


class ExpectAnyOf(_Strict):
    """Several acceptable verdicts at one scale, with the reason (e.g. a smoke run whose
    seeds straddle a boundary differently on different CPUs)."""

    any_of: list[Verdict] = Field(min_length=2)
    why: str = Field(min_length=1)


class PlotSpec(_Strict):
    """A figure drawn from metrics the experiment returns (list-valued: one curve per unit;
    scalars: one point per unit), beside the check panels."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["line", "scatter", "bar"] = "line"
    x: str = Field(description="metric on the x axis; for `bar`, the sweep parameter whose "
                   "values are the categories")
    y: list[str] = Field(min_length=1, description="metrics on the y axis")
    paper: dict[str, float] | None = Field(
        None, description="`bar` only: the paper's value per category, drawn beside ours")

    @model_validator(mode="after")
    def _paper_only_for_bars(self) -> PlotSpec:
        if self.paper is not None and self.kind != "bar":
            raise ValueError(f"`paper` values are drawn only by kind: bar, not {self.kind!r}")
        return self
    logx: bool = False
    logy: bool = False
    title: str | None = None


class Claim(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    paper: PaperRef
    statement: str
    experiment: str
    params: dict[str, Any] = Field(default_factory=dict)
    sweep: Sweep | None = None
    scales: dict[ScaleName, Scale]
    seeds: int = Field(3, ge=1, le=MAX_SEEDS)
    checks: list[Check] = Field(default_factory=list)
    preconditions: list[Check] = Field(
        default_factory=list,
        description="what the experiment must reach before the claim can be judged; a seed "
                    "failing one does not count, and with fewer than two seeds left the "
                    "verdict is `invalid`")
    report: list[ReportItem] = Field(default_factory=list,
                                     description="quantities shown with their interval, "
                                                 "never judged")
    expect: dict[ScaleName, Union[Verdict, ExpectAnyOf]]
    plots: list[PlotSpec] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    volatile_metrics: list[str] = Field(
        default_factory=list,
        description="glob patterns of metrics that measure the machine (wall or CPU times), "
                    "exempt from the bit-identical rerun check; everything else must repeat "
                    "exactly on the CPU")
    notes: str | None = None

    # Not part of the file: where it came from, for error messages.
    source: str = Field("", exclude=True)
    lines: dict[Any, int] = Field(default_factory=dict, exclude=True, repr=False)

    def line(self, *path: str | int) -> int | None:
        return line_of(self.lines, tuple(path))

    def expected(self, scale: str) -> list[str]:
        """The acceptable verdicts at ``scale``."""
        e = self.expect[scale]
        return list(e.any_of) if isinstance(e, ExpectAnyOf) else [e]

    def seeds_for(self, scale: str) -> int:
        s = self.scales[scale].seeds
        return s if s is not None else self.seeds

    def timeout_for(self, scale: str) -> float | None:
        """A unit's time limit at ``scale``: the scale's ``timeout_s``; at smoke (which must
        take seconds in CI) 60 s when unset; otherwise none."""
        t = self.scales[scale].timeout_s
        return t if t is not None else (SMOKE_TIMEOUT_S if scale == "smoke" else None)

    def sweep_for(self, scale: str) -> tuple[Sweep | None, tuple[str | int, ...]]:
        """The sweep at ``scale`` and the key path it was written at."""
        if self.scales[scale].sweep is not None:
            return self.scales[scale].sweep, ("scales", scale, "sweep")
        return self.sweep, ("sweep",)


_NESTED: dict[str, type[BaseModel]] = {"paper": PaperRef}


def json_schema() -> dict[str, Any]:
    """The claim JSON Schema (for editors)."""
    schema = Claim.model_json_schema()
    for k in ("source", "lines"):
        schema.get("properties", {}).pop(k, None)
    schema["title"] = "repro claim file"
    return schema


def _did_you_mean(key: str, allowed: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _fields(model: type[BaseModel]) -> list[str]:
    return [f for f in model.model_fields if f not in ("source", "lines")]


def _unknown_keys(data: dict[str, Any]) -> list[tuple[tuple, str]]:
    """Unknown keys anywhere in the claim, with a did-you-mean message."""
    out: list[tuple[tuple, str]] = []

    def scan(obj: Any, model: type[BaseModel], path: tuple) -> None:
        if not isinstance(obj, dict):
            return
        allowed = _fields(model)
        for k in obj:
            if k not in allowed:
                out.append((path + (k,), f"unknown key {k!r}{_did_you_mean(k, allowed)}"))

    scan(data, Claim, ())
    scan(data.get("paper"), PaperRef, ("paper",))
    scales = data.get("scales")
    if isinstance(scales, dict):
        for s, body in scales.items():
            if s not in SCALES:
                out.append((("scales", s), f"unknown scale {s!r}{_did_you_mean(s, SCALES)} "
                            f"(scales: {', '.join(SCALES)})"))
            else:
                scan(body, Scale, ("scales", s))
    expect = data.get("expect")
    if isinstance(expect, dict):
        for s, body in expect.items():
            if s not in SCALES:
                out.append((("expect", s), f"unknown scale {s!r}{_did_you_mean(s, SCALES)}"))
            else:
                scan(body, ExpectAnyOf, ("expect", s))
    for section, model in (("checks", Check), ("preconditions", Check), ("report", ReportItem),
                           ("plots", PlotSpec)):
        items = data.get(section)
        if isinstance(items, list):
            for i, c in enumerate(items):
                scan(c, model, (section, i))
    return out


def _pydantic_problems(err: ValidationError, file: str, lines: dict) -> list[Problem]:
    probs = []
    for e in err.errors():
        loc = tuple(e["loc"])
        # pydantic appends union-member tags ("str", "float", "function-after") to locs
        clean = tuple(p for p in loc if not (isinstance(p, str) and (
            p in ("str", "float", "int", "bool") or "[" in p or p.startswith("function"))))
        msg = e["msg"]
        bad_float = isinstance(e.get("input"), float) and not math.isfinite(e["input"])
        if e["type"] == "missing":
            msg = "required key is missing"
        elif bad_float:
            msg = (f"{e['input']!r} is not allowed: a reference value, tolerance or bound is "
                   "a finite number (or, where the key allows it, a metric name)")
        elif "input" in e and not isinstance(e["input"], (dict, list)):
            msg += f" (got {e['input']!r})"
        probs.append(Problem(file, line_of(lines, clean), format_path(clean), msg))
    # de-duplicate (unions report once per member)
    seen, out = set(), []
    for p in probs:
        if (p.path, p.line) not in seen:
            seen.add((p.path, p.line))
            out.append(p)
    return out


def parse_claim(text: str, file: str = "<claim>", stem: str | None = None) -> Claim:
    """Validate claim ``text``; raise ClaimError with every problem found."""
    try:
        data, lines = load_with_lines(text)
    except YamlProblem as e:
        raise ClaimError([Problem(file, e.line, e.path, str(e))]) from None
    if not isinstance(data, dict):
        raise ClaimError([Problem(file, 1, "", "a claim file must be a YAML mapping "
                                  f"(got {type(data).__name__})")])
    problems = [Problem(file, line_of(lines, p), format_path(p), m)
                for p, m in _unknown_keys(data)]
    if problems:
        raise ClaimError(problems)
    try:
        claim = Claim.model_validate({**data, "source": file, "lines": lines})
    except ValidationError as e:
        raise ClaimError(_pydantic_problems(e, file, lines)) from None
    problems = _semantic_problems(claim, stem)
    if problems:
        raise ClaimError(problems)
    return claim


def load_claim(path: str | Path) -> Claim:
    """Read and validate the claim file at ``path``."""
    from .yamlload import MAX_BYTES

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ClaimError([Problem(str(path), None, "", f"{size} bytes: a claim file is at "
                                      f"most {MAX_BYTES} (claim files are a few KB; is this "
                                      "a data file?)")])
        raw = path.read_bytes()
    except OSError as e:
        raise ClaimError([Problem(str(path), None, "", f"cannot read: {e.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ClaimError([Problem(str(path), line, "", "not valid UTF-8 "
                                  f"(byte 0x{raw[e.start]:02x} at offset {e.start})")]) from None
    return parse_claim(text, str(path), stem=path.stem)


def sweep_points(sweep: Sweep | None) -> list[dict[str, Any]]:
    """Expand a sweep: a mapping is a Cartesian grid, a list is explicit points."""
    if not sweep:
        return [{}]
    if isinstance(sweep, list):
        return [dict(p) for p in sweep]
    import itertools
    keys = list(sweep)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(sweep[k] for k in keys))]


def resolved_params(claim: Claim, scale: str) -> list[tuple[dict[str, Any], dict[str, tuple]]]:
    """Every sweep point's full params at ``scale`` with the key path each came from."""
    sweep, spath = claim.sweep_for(scale)
    out = []
    for i, point in enumerate(sweep_points(sweep)):
        params: dict[str, Any] = {}
        origin: dict[str, tuple] = {}
        for k, v in claim.params.items():
            params[k], origin[k] = v, ("params", k)
        for k, v in claim.scales[scale].params.items():
            params[k], origin[k] = v, ("scales", scale, "params", k)
        for k, v in point.items():
            params[k] = v
            origin[k] = spath + ((i, k) if isinstance(sweep, list) else (k,))
        out.append((params, origin))
    return out


def _swept_keys(claim: Claim, scale: str) -> set[str]:
    sweep, _ = claim.sweep_for(scale)
    return set().union(*(p.keys() for p in sweep_points(sweep)))


def _check_problems(claim: Claim, section: str, i: int, c: Check, all_names: list[str],
                    add) -> None:
    """Problems of one check (or precondition) at ``section[i]``."""
    if all_names.count(c.name) > 1:
        add((section, i, "name"), f"duplicate check name {c.name!r} (checks, preconditions and "
            "report entries share one namespace)")
    req, opt = OP_FIELDS[c.op]
    if c.aggregate is not None:
        if c.op in ("loglog_slope", "monotone"):
            add((section, i, "aggregate"), f"op {c.op!r} already reduces along `over`; "
                "`aggregate` is for pointwise ops")
        else:
            req = req | {"over"}
    for k in sorted(req):
        if getattr(c, k) is None:
            add((section, i), f"op {c.op!r} needs {k!r}"
                + (" (the axis to aggregate over)" if k == "over" else ""))
    for k in sorted(OP_SPECIFIC - req - opt):
        if getattr(c, k) is not None:
            add((section, i, k), f"{k!r} has no meaning for op {c.op!r} "
                f"(it takes {', '.join(sorted(req | opt))}"
                + ("; `over` needs `aggregate`" if k == "over" else "") + ")")
    if c.op == "between" and c.lo is not None and c.hi is not None and c.lo > c.hi:
        add((section, i, "lo"), f"lo {c.lo} is above hi {c.hi}")
    if not c.unbounded:
        wide = {"tol": c.tol, "margin": None if c.margin is None else abs(c.margin),
                "hi - lo": (c.hi - c.lo) if c.op == "between" and c.lo is not None
                and c.hi is not None else None}
        for k, v in wide.items():
            if v is not None and v >= VACUOUS_BOUND:
                add((section, i, k.split()[-1] if k != "hi - lo" else "hi"),
                    f"{k} = {v:g}: a band {VACUOUS_BOUND:g} or more wide (or a margin that "
                    "large) is a region the statistic cannot leave; a number only to be shown "
                    "belongs in `report:`, and a metric whose range really is that wide "
                    "needs `unbounded: true` with the range argued in `why`")
    sweep_op = c.op in ("loglog_slope", "monotone")
    _scope_problems(claim, (section, i), c.scales, c.where, c.over,
                    c.op if sweep_op else None, add)


def _scope_problems(claim: Claim, path: tuple, scales: list[str] | None,
                    where: dict | None, over: str | None, numeric_op: str | None, add) -> None:
    """``scales``, ``where`` and ``over`` of a check or report entry against the sweep."""
    for s in scales or []:
        if s not in claim.scales:
            add(path + ("scales",), f"scale {s!r} is not defined by the claim")
    for s in claim.scales:
        if scales is not None and s not in scales:
            continue
        swept = _swept_keys(claim, s)
        if over is not None and over not in swept:
            add(path + ("over",), f"{over!r} is not swept at scale {s!r} "
                f"(swept: {', '.join(sorted(swept)) or 'nothing'})")
        elif over is not None and numeric_op is not None:
            vals = [p[over] for p in sweep_points(claim.sweep_for(s)[0]) if over in p]
            if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in vals):
                add(path + ("over",), f"{numeric_op} needs numbers along {over!r}, "
                    f"got {vals!r} at scale {s!r}")
            elif len(set(vals)) < 2:
                add(path + ("over",), f"{numeric_op} needs at least two distinct values of "
                    f"{over!r}, got {sorted(set(vals))} at scale {s!r}")
        for k in (where or {}):
            if k not in swept:
                add(path + ("where", k), f"{k!r} is not swept at scale {s!r}")
        if where and all(k in swept for k in where):
            pts = sweep_points(claim.sweep_for(s)[0])
            if not any(all(p.get(k) == v for k, v in where.items()) for p in pts):
                k0 = next(iter(where))
                vals = sorted({repr(p.get(k0)) for p in pts})
                add(path + ("where",), f"no sweep point at scale {s!r} matches {where!r} "
                    f"(values of {k0!r}: {', '.join(vals)})")


def _expectation_problems(claim: Claim, scale: str, add) -> None:
    """An expectation the claim's checks make impossible is a mistake in the file, not a
    verdict to wait for: with no check applying at ``scale`` the claim can only be
    `reported` (or skipped/invalid), and with one it is judged, never `reported`."""
    judged = any(c.applies_to(scale) for c in claim.checks)
    want = claim.expected(scale)
    if not judged and not set(want) & {"reported", "skipped", "invalid"}:
        add(("expect", scale), f"expects {'/'.join(want)} at scale {scale!r}, but no check "
            "applies there: the claim can only be `reported` (or skipped/invalid)")
    elif judged and want == ["reported"]:
        add(("expect", scale), f"expects `reported` at scale {scale!r}, but checks apply "
            "there: the verdict is judged")


def _semantic_problems(claim: Claim, stem: str | None) -> list[Problem]:
    f = claim.source
    P: list[Problem] = []

    def add(path: tuple, msg: str) -> None:
        P.append(Problem(f, claim.line(*path), format_path(path), msg))

    if stem is not None and claim.id != stem:
        add(("id",), f"id {claim.id!r} must equal the file stem {stem!r}")
    if "smoke" not in claim.scales:
        add(("scales",), "the 'smoke' scale is mandatory (it runs in CI)")
    for s in claim.scales:
        if s not in claim.expect:
            add(("expect",), f"no expectation for scale {s!r}")
    for s in claim.expect:
        if s not in claim.scales:
            add(("expect", s), f"expectation for scale {s!r}, which the claim does not define")
    before = len(P)
    for s in claim.scales:
        sweep, spath = claim.sweep_for(s)
        if isinstance(sweep, dict):
            for k, vals in sweep.items():
                if not vals:
                    add(spath + (k,), f"sweep axis {k!r} has no values at scale {s!r} (it "
                        "would plan no units)")
        elif isinstance(sweep, list) and not sweep:
            add(spath, f"the sweep at scale {s!r} lists no points (it would plan no units)")
        seeds = max(claim.seeds_for(s), claim.scales[s].max_seeds or 0)
        big = too_many_units(count_points(sweep), seeds)
        if big:
            add(spath if sweep else ("seeds",), big)
    if len(P) > before:
        return P  # an empty or oversized sweep: expanding it below is pointless or too big
    for s in claim.scales:
        sweep, spath = claim.sweep_for(s)
        pts = [repr(sorted(p.items())) for p in sweep_points(sweep)]
        if len(set(pts)) < len(pts):
            add(spath, f"the sweep at scale {s!r} repeats a point (each point must be unique)")
    if not claim.checks and not claim.report:
        add(("checks",), "a claim needs at least one check or one `report:` entry")
    for s in claim.expect:
        if s in claim.scales:
            _expectation_problems(claim, s, add)
    all_names = ([c.name for c in claim.checks] + [c.name for c in claim.preconditions]
                 + [r.name for r in claim.report])
    for section, items in (("checks", claim.checks), ("preconditions", claim.preconditions)):
        for i, c in enumerate(items):
            _check_problems(claim, section, i, c, all_names, add)
    for i, r in enumerate(claim.report):
        if all_names.count(r.name) > 1:
            add(("report", i, "name"), f"duplicate name {r.name!r} (checks, preconditions and "
                "report entries share one namespace)")
        if (r.over is None) != (r.aggregate is None):
            add(("report", i), "`over` and `aggregate` go together")
        _scope_problems(claim, ("report", i), r.scales, r.where, r.over, None, add)
    try:
        exp = registry.get(claim.experiment)
    except registry.UnknownExperiment as e:
        add(("experiment",), str(e))
        return P
    hints = typing.get_type_hints(exp.func)
    for s in claim.scales:
        for params, origin in resolved_params(claim, s):
            for k, v in params.items():
                if k in registry.HARNESS_PARAMS:
                    add(origin[k], f"{k!r} is set by the harness, not the claim file")
                elif k not in exp.params:
                    add(origin[k], f"experiment {exp.name!r} has no parameter {k!r}"
                        f"{_did_you_mean(k, exp.params)} (it takes: {', '.join(exp.params)})")
                else:
                    try:
                        TypeAdapter(hints.get(k, Any)).validate_python(v, strict=True)
                    except ValidationError as e:
                        add(origin[k], f"bad value {v!r} for {exp.name}.{k}: "
                            f"{e.errors()[0]['msg']}")
            for k in exp.required:
                if k not in params:
                    add(("params",), f"experiment {exp.name!r} needs parameter {k!r} "
                        f"(missing at scale {s!r})")
    # one report per location
    seen, out = set(), []
    for p in P:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out
