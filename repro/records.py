"""Result records on disk: one versioned schema, standard JSON, validated on every read.

A record (``results/<claim id>/<scale>.json``) is read by browsers, notebooks and other
tools, so it is *standard* JSON: ``json.dumps`` would write ``-Infinity`` for the open end
of a region (``at_least`` is ``[lo, ∞)``) and ``NaN`` for an undefined interval, which
``JSON.parse`` rejects. Convention (documented in the README): a non-finite float is
written as the JSON string ``"Infinity"``, ``"-Infinity"`` or ``"NaN"`` (JavaScript's own
spellings), and :func:`read_record` turns exactly those strings back into floats.

Every read validates the record against :class:`RecordModel`; a record that fails (a
truncated file, a missing section, an unknown ``format``) raises :class:`UnreadableRecord`,
which ``repro report``/``list`` and ``load_results()`` show as an ``unreadable`` row rather
than dropping it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

RECORD_FORMAT = 3  # 3: standard JSON (non-finite floats as strings); 2: format-2 unit keys
READABLE_FORMATS = (1, 2, 3)
RECORD_SCALES = ("smoke", "default", "paper")  # a record is results/<id>/<scale>.json

_NONFINITE = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}


class UnreadableRecord(Exception):
    """A result file that is not a valid record (carries its path and why)."""

    def __init__(self, path: Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: unreadable record: {reason}")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _PaperPart(_Open):
    title: str


class _ClaimPart(_Open):
    id: str
    title: str
    paper: _PaperPart
    statement: str = ""


class _Timing(_Open):
    total_s: float
    compute_s: float


class _Provenance(_Open):
    date: str | None = None
    device: str | None = None


class _Entry(_Open):
    name: str
    op: str
    metric: str
    verdict: str
    groups: list[dict[str, Any]]
    region: list[float] | None = None

    @model_validator(mode="after")
    def _judged_entries_have_a_region(self) -> _Entry:
        if self.op != "report" and (self.region is None or len(self.region) != 2):
            raise ValueError(f"entry {self.name!r}: a judged entry needs its region [lo, hi]")
        return self


class _Unit(_Open):
    point: dict[str, Any]
    seed_index: int
    status: str


class RecordModel(_Open):
    """What every reader of a record relies on (extra fields are kept, not checked)."""

    format: Literal[1, 2, 3] = 1
    claim: _ClaimPart
    scale: Literal["smoke", "default", "paper"]
    seeds: int
    verdict: str
    expect: Any
    checks: list[_Entry]
    preconditions: list[_Entry] = []
    report: list[_Entry] = []
    units: list[_Unit]
    timing: _Timing
    provenance: _Provenance


def encode_nonfinite(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by its string spelling."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: encode_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode_nonfinite(v) for v in obj]
    return obj


def decode_nonfinite(obj: Any) -> Any:
    """The inverse of :func:`encode_nonfinite` (exactly the three strings become floats)."""
    if isinstance(obj, str):
        return _NONFINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: decode_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_nonfinite(v) for v in obj]
    return obj


def dumps_json(obj: Any, indent: int = 1) -> str:
    """``obj`` as standard JSON text (non-finite floats as strings), newline-terminated:
    every JSON file under results/ is written through here."""
    return json.dumps(encode_nonfinite(obj), indent=indent, sort_keys=False, default=str,
                      allow_nan=False) + "\n"


def dumps_record(record: dict[str, Any]) -> str:
    """The record as standard JSON text (never ``NaN``/``Infinity`` literals)."""
    return dumps_json(record)


def _validation_reason(err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(x) for x in e["loc"]) or "record"
    if e["loc"] == ("format",):
        return (f"unknown format {e.get('input')!r} (this repro reads formats "
                f"{', '.join(map(str, READABLE_FORMATS))}; a newer repro wrote it?)")
    return f"{where}: {e['msg']}" + (f" ({len(err.errors()) - 1} more)" if len(err.errors()) > 1
                                     else "")


def parse_record(text: str, path: Path) -> dict[str, Any]:
    """Parse and validate record ``text``; raise :class:`UnreadableRecord`."""
    try:
        raw = json.loads(text)  # Python's parser also reads the legacy -Infinity literals
    except ValueError as e:
        raise UnreadableRecord(path, f"not JSON ({e}); truncated or edited by hand?") from None
    if not isinstance(raw, dict):
        raise UnreadableRecord(path, f"a record is a JSON object, got {type(raw).__name__}")
    record = decode_nonfinite(raw)
    try:
        RecordModel.model_validate(record)
    except ValidationError as e:
        raise UnreadableRecord(path, _validation_reason(e)) from None
    return record


def read_record(path: str | Path) -> dict[str, Any]:
    """Read, decode and validate the record at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UnreadableRecord(path, f"cannot read: {e}") from None
    return parse_record(text, path)


def is_record_path(path: Path) -> bool:
    """``results/<id>/<scale>.json`` (benchmark JSON lives elsewhere under other names)."""
    return path.suffix == ".json" and path.stem in RECORD_SCALES
