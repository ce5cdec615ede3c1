"""Run units as SLURM jobs through submitit (``repro run ... --executor slurm``).

Why submitit: it is how most researchers already send Python functions to a SLURM cluster
(sbatch files, job ids, pickled results, pre-emption signals), and it has a local mode — one
process per job on this machine — so the same path is tested in CI without a cluster.

Each unit is one job running :func:`repro.execute.run_unit`; the job returns its record and
never writes the cache or results: the driver does, as with the other executors, so a run
gives the local run's numbers bit for bit. A job that fails outside the unit (its node lost,
pre-empted, killed, out of memory, timed out by SLURM) is submitted once more, then becomes
an ``error`` record for that unit while the rest finish. Stopping the driver (Ctrl-C, or any
exception) cancels every job it submitted that has not finished. A driver killed outright
cannot cancel anything; rerun it and the finished units come from the cache, only the rest
are submitted again.

Options come from ``repro.toml`` (``[slurm]``) or ``pyproject.toml`` (``[tool.repro.slurm]``)
in the current directory, then ``--slurm KEY=VALUE`` on the command line (which wins)::

    [tool.repro.slurm]
    partition = "gpu"
    time_min = 60            # the job's SLURM time limit (default: the unit timeout + 5 min)
    cpus_per_unit = 4
    gpus_per_unit = 1        # default: 1 when the claim's scale requires CUDA, else 0
    mem_gb = 16
    max_in_flight = 64       # jobs submitted at once (local mode: CPUs / cpus_per_unit)
    sbatch = {account = "mylab", qos = "normal"}   # any other sbatch parameter

``cluster = "local"`` runs the jobs as local processes (submitit's LocalExecutor).
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import UsageError
from .executors import Record, Task, lost_worker_record

# key -> (type, help); "sbatch.<name>" keys go to submitit's slurm_additional_parameters
OPTIONS: dict[str, tuple[type, str]] = {
    "cluster": (str, "slurm (submit with sbatch) or local (a process per job, no SLURM)"),
    "folder": (str, "where submitit keeps job scripts, pickles and logs (a shared file "
                    "system on a cluster; default: <cache dir>/../slurm)"),
    "partition": (str, "SLURM partition"),
    "time_min": (int, "SLURM time limit per job in minutes (default: unit timeout + 5)"),
    "cpus_per_unit": (int, "CPUs per job (default 1)"),
    "gpus_per_unit": (int, "GPUs per job (default: 1 if the scale requires CUDA, else 0)"),
    "mem_gb": (float, "memory per job in GB"),
    "max_in_flight": (int, "jobs submitted at once"),
    "max_retries": (int, "resubmissions of a job that failed outside its unit (default 1)"),
    "poll_s": (float, "seconds between looks at the jobs"),
}
CLUSTERS = ("slurm", "local")


def _convert(key: str, value: Any, where: str) -> Any:
    if key.startswith("sbatch."):
        if not key[len("sbatch."):]:
            raise UsageError(f"{where}: 'sbatch.' needs a parameter name, e.g. sbatch.account")
        return value
    if key not in OPTIONS:
        known = ", ".join(list(OPTIONS) + ["sbatch.<name>"])
        raise UsageError(f"{where}: unknown SLURM option {key!r} (known: {known})")
    typ = OPTIONS[key][0]
    try:
        out = typ(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {key} must be {typ.__name__}, got {value!r}") from None
    if key == "cluster" and out not in CLUSTERS:
        raise UsageError(f"{where}: cluster must be one of {', '.join(CLUSTERS)}, got {out!r}")
    if typ in (int, float) and not out >= (0 if key in ("gpus_per_unit", "max_retries") else 1):
        raise UsageError(f"{where}: {key} must be positive, got {value!r}")
    return out


def _flatten(table: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        if k == "sbatch":
            if not isinstance(v, dict):
                raise UsageError(f"{where}: sbatch must be a table of sbatch parameters")
            out.update({f"sbatch.{n}": _convert(f"sbatch.{n}", x, where) for n, x in v.items()})
        else:
            out[k] = _convert(k, v, where)
    return out


def config_options(cwd: Path) -> dict[str, Any]:
    """The ``[slurm]`` table of ``repro.toml``, else ``[tool.repro.slurm]`` of
    ``pyproject.toml``, in ``cwd``; empty when neither exists."""
    import tomllib

    for name, keys in (("repro.toml", ("slurm",)), ("pyproject.toml", ("tool", "repro", "slurm"))):
        p = cwd / name
        if not p.is_file():
            continue
        try:
            data: Any = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise UsageError(f"{p}: cannot read: {e}") from None
        for k in keys:
            data = data.get(k) if isinstance(data, dict) else None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise UsageError(f"{p}: [{'.'.join(keys)}] must be a table")
        return _flatten(data, f"{p} [{'.'.join(keys)}]")
    return {}


def parse_cli_options(pairs: list[str]) -> dict[str, Any]:
    """``--slurm KEY=VALUE`` pairs (``sbatch.NAME=VALUE`` for any other sbatch parameter)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--slurm {pair!r}: expected KEY=VALUE, e.g. partition=gpu")
        out[key.strip()] = _convert(key.strip(), value.strip(), f"--slurm {pair}")
    return out


def slurm_options(cli_pairs: list[str] | None, cwd: Path | None = None) -> dict[str, Any]:
    """The configuration file's options, overridden by the command line's."""
    return {**config_options(cwd or Path.cwd()), **parse_cli_options(cli_pairs or [])}


def _run_in_job(exp: str, params: dict[str, Any], seed: int, device: str, threads: int,
                timeout_s: float | None) -> Record:
    """What one job runs: the unit, with as many threads as the job has CPUs."""
    from .execute import run_unit
    from .executors import limit_threads

    limit_threads(threads)
    return run_unit(exp, params, seed, device, timeout_s)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


class SlurmExecutor:
    """Units as submitit jobs: SLURM (``cluster="slurm"``) or local processes (``"local"``).

    At most ``max_in_flight`` jobs are submitted at a time; a job whose result cannot be
    had is resubmitted ``max_retries`` times, then its unit is an ``error`` record."""

    def __init__(self, options: dict[str, Any] | None = None, *, gpus_per_unit: float = 0.0,
                 timeout_s: float | None = None, default_folder: Path | None = None):
        try:
            import submitit
        except ImportError:
            raise UsageError('--executor slurm needs submitit: pip install -e ".[slurm]"') from None
        opts = dict(options or {})
        self.submitit = submitit
        self.cluster = opts.pop("cluster", "slurm")
        folder = Path(opts.pop("folder", None) or default_folder or Path.cwd() / "slurm")
        self.folder = folder.expanduser()
        self.cpus = int(opts.pop("cpus_per_unit", 1))
        gpus = int(opts.pop("gpus_per_unit", math.ceil(gpus_per_unit)))
        self.max_retries = int(opts.pop("max_retries", 1))
        local = self.cluster == "local"
        self.max_in_flight = int(opts.pop("max_in_flight", 0)) or (
            max(1, (os.cpu_count() or 1) // self.cpus) if local else 256)
        self.poll_s = float(opts.pop("poll_s", 0.2 if local else 10.0))
        self.timeout_s = timeout_s
        time_min = int(opts.pop("time_min", 0)) or (
            math.ceil(timeout_s / 60) + 5 if timeout_s else 24 * 60)
        sbatch = {k[len("sbatch."):]: v for k, v in opts.items() if k.startswith("sbatch.")}
        params: dict[str, Any] = {"timeout_min": time_min, "cpus_per_task": self.cpus,
                                  "gpus_per_node": gpus, "name": "repro-unit"}
        if "mem_gb" in opts:
            params["mem_gb"] = float(opts["mem_gb"])
        if "partition" in opts:
            params["slurm_partition"] = opts["partition"]
        if sbatch:
            params["slurm_additional_parameters"] = sbatch
        if local and gpus == 0:
            params.pop("gpus_per_node")
        try:
            self.ex = submitit.AutoExecutor(folder=self.folder / "%j", cluster=self.cluster)
            self.ex.update_parameters(**params)
        except (ValueError, RuntimeError) as e:  # e.g. no sbatch on this machine
            raise UsageError(f"--executor slurm ({self.cluster}): {_first_line(e)}") from None
        self._live: dict[Any, Task] = {}  # job -> its task, until its record is yielded

    def _submit(self, task: Task) -> Any:
        idx, exp, params, seed, device = task
        job = self.ex.submit(_run_in_job, exp, params, seed, device, self.cpus, self.timeout_s)
        if self.cluster == "local":
            job._results_timeout_s = 2  # no shared file system to wait for
        self._live[job] = task
        return job

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Record]]:
        queue = deque(tasks)
        attempts: dict[int, int] = {}
        while queue or self._live:
            while queue and len(self._live) < self.max_in_flight:
                task = queue.popleft()
                try:
                    self._submit(task)
                except Exception as e:  # noqa: BLE001 - sbatch refused it: that unit's error
                    yield task[0], {"status": "error", "metrics": {}, "wall_s": 0.0,
                                    "error": f"job submission failed: {_first_line(e)}"}
                    continue
                attempts[task[0]] = attempts.get(task[0], 0) + 1
            finished = [j for j in list(self._live) if j.done()]
            if not finished:
                time.sleep(self.poll_s)
                continue
            for job in finished:
                task = self._live.pop(job)
                idx = task[0]
                try:
                    rec = job.result()
                except Exception as e:  # noqa: BLE001 - the job, not the unit, failed
                    if attempts[idx] <= self.max_retries:
                        queue.append(task)
                        continue
                    rec = lost_worker_record(
                        f"job {job.job_id} ended without a result ({_first_line(e)}); "
                        f"logs: {job.paths.folder}", attempts[idx])
                yield idx, rec

    def close(self) -> None:
        """Cancel every job not yet collected (Ctrl-C, an error in the driver, or a run
        stopped early must not leave work running on a shared cluster)."""
        for job in list(self._live):
            try:
                job.cancel(check=False)
            except Exception:  # noqa: BLE001 - finished or gone meanwhile: nothing to cancel
                pass
        self._live.clear()
