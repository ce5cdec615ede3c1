"""The ``repro`` command line: run, check, rejudge, list, validate, report, schema.

Exit codes: 0 every claim met its expectation, 1 some did not (or a unit did not finish,
or a stored record is unreadable), 2 bad input (with file:line), 3 results could not be
written. Bad input never shows a traceback and never runs anything.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import ClaimError, MetricMissing, ResultsWriteError, UsageError
from .schema import MAX_SEEDS

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Claims-as-tests reproduction harness for contrastive-learning papers.")

EXIT_OK, EXIT_UNMET, EXIT_BAD, EXIT_WRITE = 0, 1, 2, 3


def _say(*args, file=None, **kw) -> None:
    """``print`` that survives a closed pipe (``repro run X | head -1``): the rest of the
    output goes nowhere, while the run goes on and writes its results."""
    stream = file or sys.stdout
    try:
        print(*args, file=stream, **kw)
        stream.flush()
    except BrokenPipeError:
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())  # later writes (and the exit flush) vanish
        except (OSError, ValueError, AttributeError):
            pass
        finally:
            os.close(devnull)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line (``repro: warning: ...``), not the harness source line that
    Python's default format quotes."""
    _say(f"repro: warning: {message}", file=sys.stderr)


@app.callback()
def _setup() -> None:
    import warnings

    warnings.showwarning = _show_warning


def _err(msg: str) -> None:
    _say(msg, file=sys.stderr)


def claims_dir() -> Path:
    return Path.cwd() / "claims"


def resolve_claim(arg: str) -> Path:
    """A claim path, or a claim id looked up in ./claims (with did-you-mean)."""
    p = Path(arg)
    if p.exists():
        return p
    cand = claims_dir() / f"{arg}.yaml"
    if cand.exists():
        return cand
    known = sorted(q.stem for q in claims_dir().glob("*.yaml"))
    # a short name: the one claim id holding it as whole words (``tau_law`` ->
    # spectral_tau_law), announced; ``infonce`` (infonce_gmm? ragc_..._to_infonce?) is
    # ambiguous and refused
    short = [k for k in known if f"_{arg}_" in f"_{k}_"] if "/" not in arg else []
    if len(short) == 1:
        _err(f"{arg}: running {short[0]} (the only claim id containing {arg!r})")
        return claims_dir() / f"{short[0]}.yaml"
    if len(short) > 1:
        raise FileNotFoundError(f"{arg}: ambiguous claim name; one of {', '.join(short)}")
    close = difflib.get_close_matches(Path(arg).stem, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise FileNotFoundError(f"{arg}: no such claim file or claim id{hint}")


@app.command()
def run(claims: list[str] = typer.Argument(..., help="claim files or claim ids"),
        scale: str = typer.Option("default", help="smoke | default | paper"),
        seeds: Optional[int] = typer.Option(None, min=1, max=MAX_SEEDS,
                                            help="override the number of seeds"),
        jobs: int = typer.Option(1, min=1, help="local worker processes"),
        device: str = typer.Option("auto", help="auto | cpu | cuda"),
        no_cache: bool = typer.Option(False, "--no-cache", help="recompute every unit"),
        results_dir: Optional[Path] = typer.Option(None, help="default: ./results"),
        executor: str = typer.Option("local", help="local (this machine) | ray | slurm"),
        address: Optional[str] = typer.Option(
            None, help="--executor ray: 'auto' or HOST:PORT of a running cluster "
                       "(default: start a private local Ray)"),
        until_decided: bool = typer.Option(
            False, "--until-decided",
            help="add seeds in batches until every check is decided (anytime-valid "
                 "confidence sequence) or --max-seeds is reached"),
        max_seeds: Optional[int] = typer.Option(
            None, max=MAX_SEEDS,
            help="with --until-decided: the most seeds to run (default: the scale's "
                 "max_seeds, else 20; at least 2)"),
        timeout: Optional[float] = typer.Option(
            None, min=0.1, help="seconds a unit may run before it is stopped and recorded "
                                "as an error (default: the scale's timeout_s; smoke: 60)"),
        slurm: list[str] = typer.Option(
            [], "--slurm", metavar="KEY=VALUE",
            help="--executor slurm: partition, time_min, cpus_per_unit, gpus_per_unit, "
                 "mem_gb, max_in_flight, max_retries, cluster (slurm|local), folder, "
                 "sbatch.NAME (any sbatch parameter); over [tool.repro.slurm] in "
                 "pyproject.toml or [slurm] in repro.toml"),
        ) -> None:
    """Run claims at a scale, print their check tables, write results/."""
    from .results import console_table
    from .runner import run_claim

    if until_decided and max_seeds is not None and max_seeds < 2:
        _err(f"--max-seeds {max_seeds}: --until-decided needs at least 2 seeds (an interval "
             "needs a spread)")
        raise typer.Exit(EXIT_BAD)
    from .runner import preflight

    if executor == "local" and jobs > 1:
        from .executors import start_fork_server

        start_fork_server()  # the workers' imports, beside the validation's below
    # every claim on the command line is validated before any runs: a typo in the last one
    # must not cost (and half-write) the first ones
    try:
        options = None
        if executor == "slurm":
            from .executors_slurm import slurm_options

            options = slurm_options(slurm)
        elif slurm:
            raise UsageError("--slurm options need --executor slurm")
        paths = [resolve_claim(arg) for arg in claims]
        for path in paths:
            preflight(path, scale, seeds=seeds, until_decided=until_decided,
                      max_seeds=max_seeds)
    except (ClaimError, FileNotFoundError, UsageError) as e:
        _err(str(e))
        raise typer.Exit(EXIT_BAD) from None
    code = EXIT_OK
    for path in paths:
        try:
            res = run_claim(path, scale=scale, seeds=seeds, jobs=jobs, device=device,
                            use_cache=not no_cache, results_root=results_dir,
                            executor=executor, address=address,
                            until_decided=until_decided, max_seeds=max_seeds,
                            timeout_s=timeout, executor_options=options)
        except (ClaimError, MetricMissing, FileNotFoundError, UsageError) as e:
            _err(str(e))
            raise typer.Exit(EXIT_BAD) from None
        except ResultsWriteError as e:
            _err(f"error: {e}")
            raise typer.Exit(EXIT_WRITE) from None
        r = res.record
        _say(f"\n{r['claim']['id']} — {r['claim']['title']}  [scale: {scale}, "
              f"seeds: {r['seeds']}, device: {r['provenance']['device']}]")
        _say(console_table(r))
        mark = "as expected" if res.met_expectation else f"EXPECTED {res.expect}"
        t = r["timing"]
        for k, why in (r.get("excluded_seeds") or {}).items():
            _say(f"seed#{k} excluded by preconditions: {'; '.join(why)}")
        if r.get("sequential"):
            _say(f"seeds: {r['sequential']['seeds']} ({r['sequential']['reason']})")
        _say(f"verdict: {res.verdict} ({mark}) · {t['total_s']:.1f} s "
              f"({t['cached_units']}/{len(r['units'])} units from cache) · {res.json_path}")
        broken = sum(1 for u in r["units"] if u["status"] == "error")
        if broken:
            _say(f"{broken} unit(s) ended in error: the run cannot exit 0", file=sys.stderr)
        if not res.met_expectation or broken:
            code = EXIT_UNMET
    raise typer.Exit(code)


def _validate_paths(paths: list[Path]) -> int:
    from . import registry
    from .schema import load_claim

    bad = 0
    for name, tb in registry.discover().items():
        _err(f"{name}: methods package failed to import: {tb.strip().splitlines()[-1]}")
        bad += 1
    for p in paths:
        try:
            load_claim(p)
            _say(f"ok   {p}")
        except ClaimError as e:
            bad += 1
            for prob in e.problems:
                _err(f"FAIL {prob}")
        except Exception as e:  # noqa: BLE001 - bad input must never show a traceback
            bad += 1
            _err(f"FAIL {p}: cannot validate: {type(e).__name__}: {e}")
    return bad


@app.command()
def validate(paths: list[Path] = typer.Argument(None, help="default: every claims/*.yaml")) -> None:
    """Validate claim files strictly (schema, experiment, params); runs nothing."""
    paths = paths or sorted(claims_dir().glob("*.yaml"))
    if not paths:
        _err(f"no claim files found in {claims_dir()}")
        raise typer.Exit(EXIT_BAD)
    raise typer.Exit(EXIT_BAD if _validate_paths(paths) else EXIT_OK)


@app.command("list")
def list_claims(results_dir: Optional[Path] = typer.Option(None)) -> None:
    """Every claim with its latest verdict per scale."""
    from tabulate import tabulate

    from .results import scan_records
    from .schema import SCALES

    latest: dict[tuple[str, str], str] = {}
    good, bad = scan_records(results_dir)
    for _, r in good:
        latest[(r["claim"]["id"], r["scale"])] = r["verdict"]
    for e in bad:
        latest[(e.path.parent.name, e.path.stem)] = "unreadable"
        _err(f"repro: warning: {e}")
    rows = []
    for p in sorted(claims_dir().glob("*.yaml")):
        rows.append([p.stem, *[latest.get((p.stem, s), "—") for s in SCALES]])
    _say(tabulate(rows, headers=["claim", *SCALES]))


@app.command()
def report(results_dir: Optional[Path] = typer.Option(None)) -> None:
    """Regenerate every results/<id>/<scale>.md and results/README.md from the JSON."""
    from .fsutil import atomic_write_text
    from .results import markdown, scan_records, write_summary

    good, bad = scan_records(results_dir)
    try:
        for p, r in good:
            atomic_write_text(p.with_suffix(".md"), markdown(r))
        out = write_summary(results_dir)
    except (OSError, ResultsWriteError) as e:
        _err(f"error: cannot write results: {e}")
        raise typer.Exit(EXIT_WRITE) from None
    _say(f"regenerated {len(good)} claim pages and {out}")
    for e in bad:
        _err(f"UNREADABLE {e.path}: {e.reason} (listed as 'unreadable' in {out.name})")
    if bad:
        raise typer.Exit(EXIT_UNMET)


@app.command()
def check(claims: list[str] = typer.Argument(None, help="claim files or ids (default: all "
                                             "with a committed record at --scale)"),
          scale: str = typer.Option("default", help="the committed scale to regress"),
          changed: bool = typer.Option(False, "--changed", help="only the claims whose "
                                       "committed record no longer matches the code"),
          stale: bool = typer.Option(False, "--stale", help="list stale and outdated records "
                                     "from hashes alone; run nothing"),
          jobs: int = typer.Option(1, min=1),
          results_dir: Optional[Path] = typer.Option(None, help="default: ./results"),
          ) -> None:
    """CI regression of committed results: rerun each claim's committed scale (cached units
    reused) and compare with the committed record; exit 1 on drift."""
    from tabulate import tabulate

    from .regress import check_claim
    from .results import fmt
    from .settings import results_dir as default_results_dir
    from .staleness import stale_records

    root = results_dir or default_results_dir()
    if stale:
        found = stale_records(root, claims_dir(), include_outdated=True)
        for p, why in sorted(found.items()):
            _say(f"{p}: {why}")
        _say(f"{len(found)} stale or outdated record(s)" if found else
              "no stale records: every committed record describes the code that is here")
        raise typer.Exit(EXIT_UNMET if found else EXIT_OK)
    try:
        if claims:
            paths = [resolve_claim(a) for a in claims]
        else:
            paths = [claims_dir() / f"{p.parent.name}.yaml"
                     for p in sorted(Path(root).glob(f"*/{scale}.json"))]
            paths = [p for p in paths if p.exists()]
        if changed:
            found = stale_records(root, claims_dir())
            ids = {p.parent.name for p in found if p.name == f"{scale}.json"}
            paths = [p for p in paths if p.stem in ids]
    except FileNotFoundError as e:
        _err(str(e))
        raise typer.Exit(EXIT_BAD) from None
    code = EXIT_OK
    table = []
    for path in paths:
        try:
            out = check_claim(path, scale, Path(root), jobs=jobs, progress=True)
        except (ClaimError, MetricMissing, UsageError) as e:
            _err(str(e))
            raise typer.Exit(EXIT_BAD) from None
        for r in out["rows"]:
            c, n = r["committed"], r["rerun"]
            table.append([out["claim"], r["entry"], r["point"],
                          f"{fmt(c['mean'])} [{fmt(c['lo'])}, {fmt(c['hi'])}]" if c else "—",
                          fmt(n["mean"]) if n else "—", "DRIFT" if r["drift"] else "ok",
                          r.get("why", "")])
        table.append([out["claim"], "verdict", "", out["old_verdict"], out["new_verdict"],
                      "ok" if out["verdict_same"] else "DRIFT", f"{out['seconds']:.0f} s"])
        if out["drift"]:
            code = EXIT_UNMET
    _say(tabulate(table, headers=["claim", "entry", "point", "committed (95% CI)", "rerun",
                                   "", "why"]))
    _say("drift found" if code else f"no drift in {len(paths)} claim(s)")
    raise typer.Exit(code)


@app.command()
def rejudge(claims: list[str] = typer.Argument(None, help="claim files or ids (default: all)"),
            results_dir: Optional[Path] = typer.Option(None, help="default: ./results"),
            ) -> None:
    """Judge committed records again from their stored unit metrics, with the current claim
    files (after checks, preconditions or report entries changed). Runs nothing; a record
    whose units the claim no longer plans must be rerun instead."""
    from .regress import NotRejudgeable, rejudge_path
    from .results import write_summary
    from .settings import results_dir as default_results_dir

    root = Path(results_dir or default_results_dir())
    ids = None
    if claims:
        try:
            ids = {resolve_claim(a).stem for a in claims}
        except FileNotFoundError as e:
            _err(str(e))
            raise typer.Exit(EXIT_BAD) from None
    from .results import iter_records

    code = EXIT_OK
    for p, _ in iter_records(root):  # claim records only (not benchmark JSON)
        if ids is not None and p.parent.name not in ids:
            continue
        try:
            old, new = rejudge_path(p, claims_dir(), root)
            _say(f"{p}: {old} -> {new}")
        except NotRejudgeable as e:
            _err(f"{p}: {e}")
            code = EXIT_UNMET
        except ClaimError as e:
            _err(str(e))
            code = EXIT_BAD
        except ResultsWriteError as e:
            _err(f"error: {e}")
            raise typer.Exit(EXIT_WRITE) from None
    write_summary(root)
    raise typer.Exit(code)


@app.command()
def schema() -> None:
    """Print the claim-file JSON Schema."""
    from .schema import json_schema

    _say(json.dumps(json_schema(), indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
