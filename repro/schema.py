"""The claim-file contract: pydantic models, strict, with file:line errors.

``load_claim(path)`` returns a validated :class:`Claim` or raises :class:`ClaimError`
listing every problem with its file, line and key path. Unknown keys get a
"did you mean"; the experiment and its parameters are checked against the registry
(names, required parameters, types) for every scale and sweep point, so a typo fails
before anything runs.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from . import registry
from .errors import ClaimError, Problem
from .yamlload import YamlProblem, format_path, line_of, load_with_lines

ScaleName = Literal["smoke", "default", "paper"]
SCALES: tuple[str, ...] = typing.get_args(ScaleName)
Verdict = Literal["reproduced", "not_reproduced", "inconclusive", "error", "skipped"]
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
    why: str = Field(min_length=1, description="where the tolerance comes from")

    def applies_to(self, scale: str) -> bool:
        return self.scales is None or scale in self.scales


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
    checks: list[Check] = Field(min_length=1)
    expect: dict[ScaleName, Verdict]
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

    def seeds_for(self, scale: str) -> int:
        s = self.scales[scale].seeds
        return s if s is not None else self.seeds

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
        for s in expect:
            if s not in SCALES:
                out.append((("expect", s), f"unknown scale {s!r}{_did_you_mean(s, SCALES)}"))
    for section, model in (("checks", Check), ("plots", PlotSpec)):
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
        if e["type"] == "missing":
            msg = "required key is missing"
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
    path = Path(path)
    try:
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
    for s in claim.scales:
        sweep, spath = claim.sweep_for(s)
        pts = [repr(sorted(p.items())) for p in sweep_points(sweep)]
        if len(set(pts)) < len(pts):
            add(spath, f"the sweep at scale {s!r} repeats a point (each point must be unique)")
    names = [c.name for c in claim.checks]
    for i, c in enumerate(claim.checks):
        if names.count(c.name) > 1:
            add(("checks", i, "name"), f"duplicate check name {c.name!r}")
        req, opt = OP_FIELDS[c.op]
        for k in sorted(req):
            if getattr(c, k) is None:
                add(("checks", i), f"op {c.op!r} needs {k!r}")
        for k in sorted(OP_SPECIFIC - req - opt):
            if getattr(c, k) is not None:
                add(("checks", i, k), f"{k!r} has no meaning for op {c.op!r} "
                    f"(it takes {', '.join(sorted(req | opt))})")
        if c.op == "between" and c.lo is not None and c.hi is not None and c.lo > c.hi:
            add(("checks", i, "lo"), f"lo {c.lo} is above hi {c.hi}")
        for s in c.scales or []:
            if s not in claim.scales:
                add(("checks", i, "scales"), f"scale {s!r} is not defined by the claim")
        for s in claim.scales:
            if not c.applies_to(s):
                continue
            swept = _swept_keys(claim, s)
            if c.over is not None and c.over not in swept:
                add(("checks", i, "over"), f"{c.over!r} is not swept at scale {s!r} "
                    f"(swept: {', '.join(sorted(swept)) or 'nothing'})")
            elif c.over is not None:
                vals = [p[c.over] for p in sweep_points(claim.sweep_for(s)[0]) if c.over in p]
                if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in vals):
                    add(("checks", i, "over"), f"{c.op} needs numbers along {c.over!r}, "
                        f"got {vals!r} at scale {s!r}")
                elif len(set(vals)) < 2:
                    add(("checks", i, "over"), f"{c.op} needs at least two distinct values of "
                        f"{c.over!r}, got {sorted(set(vals))} at scale {s!r}")
            for k in (c.where or {}):
                if k not in swept:
                    add(("checks", i, "where", k), f"{k!r} is not swept at scale {s!r}")
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
