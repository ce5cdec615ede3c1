"""Benchmark of the shared NT-Xent (methods.common.infonce.nt_xent) -- a script, not a test.

    python benchmarks/bench_infonce.py --out results/benchmarks

1. Speed: forward+backward time of our ``nt_xent`` (cosine, tau = 0.1) against
   pytorch-metric-learning's ``NTXentLoss`` (2N embeddings, labels giving each exactly one
   positive: the same loss), its ``SupConLoss`` (identical to NT-Xent when every anchor has
   exactly one positive, and O(N^2) in memory), and a naive exp -> sum -> log form, at
   N in {256, 1024, 4096}, d = 128, float32, CPU. All implementations are timed side by side
   in one process: warm-up, then repeats interleaved (the order rotates every repeat), median
   over repeats, reported as ratios to ours. Before timing, each implementation's float32 loss
   and input gradients are checked against our float64 loss; disagreement is recorded and
   printed, not hidden.

   ``NTXentLoss`` builds a (#positive pairs) x (#negative pairs) matrix, i.e.
   2N x 2N(2N-2) entries (O(N^3); pytorch-metric-learning issue #547). Where one float32 copy
   of it exceeds ``--pml-max-gib`` it is not run and the row says why.

2. Finite range: per implementation, float32 loss and gradients on a batch with large
   similarities, over tau on a log grid 1e-4..1; reported as the largest tau with a
   non-finite result, the smallest tau with a finite one, and the smallest tau at which the
   float32 value is still within 1e-3 (relative) of the float64 value.

Writes ``infonce.json`` (numbers + provenance) and ``infonce.md`` (tables) under ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from methods.common.infonce import nt_xent  # noqa: E402
from methods.common.infonce_blockwise import DEFAULT_BLOCK, nt_xent_blockwise  # noqa: E402
from repro.provenance import cpu_model
from repro.records import dumps_json  # standard JSON

try:
    import pytorch_metric_learning
    from pytorch_metric_learning.distances import DotProductSimilarity
    from pytorch_metric_learning.losses import NTXentLoss, SupConLoss
    from pytorch_metric_learning.reducers import MeanReducer
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit(
        'pytorch-metric-learning is needed: pip install -e ".[bench]"  (' + str(exc) + ")"
    ) from exc

IMPLS = ("ours", "blockwise", "pml_ntxent", "pml_supcon", "naive")
LABELS = {
    "ours": "ours `nt_xent`",
    "blockwise": "ours blockwise",
    "pml_ntxent": "PML `NTXentLoss`",
    "pml_supcon": "PML `SupConLoss`",
    "naive": "naive exp-sum-log",
}


# ---- the implementations, all: (z1, z2, tau, similarity) -> mean loss over the 2N views -------


def ours(z1, z2, tau, similarity="cosine"):
    return nt_xent(z1, z2, temperature=tau, similarity=similarity)


BLOCK = DEFAULT_BLOCK  # set from --block in main()


def blockwise(z1, z2, tau, similarity="cosine"):
    return nt_xent_blockwise(z1, z2, temperature=tau, similarity=similarity, block=BLOCK)


def _pml_inputs(z1, z2):
    n = z1.shape[0]
    labels = torch.arange(n, device=z1.device).repeat(2)  # view i and view i + n share a label
    return torch.cat([z1, z2], dim=0), labels


def _pml_distance(similarity):
    # NTXentLoss / SupConLoss default to CosineSimilarity; dot = unnormalised dot product
    return (
        {}
        if similarity == "cosine"
        else {"distance": DotProductSimilarity(normalize_embeddings=False)}
    )


_PML_CACHE: dict = {}


def _pml_loss(cls, tau, similarity):
    key = (cls, tau, similarity)
    if key not in _PML_CACHE:
        _PML_CACHE[key] = cls(temperature=tau, reducer=MeanReducer(), **_pml_distance(similarity))
    return _PML_CACHE[key]


def pml_ntxent(z1, z2, tau, similarity="cosine"):
    return _pml_loss(NTXentLoss, tau, similarity)(*_pml_inputs(z1, z2))


def pml_supcon(z1, z2, tau, similarity="cosine"):
    # SupConLoss defaults to AvgNonZeroReducer, which drops anchors whose loss is exactly 0
    # from the mean (at small tau, every well-aligned anchor): MeanReducer is NT-Xent's mean.
    return _pml_loss(SupConLoss, tau, similarity)(*_pml_inputs(z1, z2))


def naive(z1, z2, tau, similarity="cosine"):
    """-mean log( exp(s_pos / tau) / sum_{k != i} exp(s_ik / tau) ), exp first, log last."""
    n = z1.shape[0]
    z = torch.cat([z1, z2], dim=0)
    if similarity == "cosine":
        z = F.normalize(z, dim=1)
    e = torch.exp(z @ z.T / tau)
    e = e.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), 0.0)
    idx = torch.arange(n, device=z.device)
    pos = e[torch.arange(2 * n, device=z.device), torch.cat([idx + n, idx])]
    return -torch.log(pos / e.sum(dim=1)).mean()


FUNCS = {"ours": ours, "blockwise": blockwise, "pml_ntxent": pml_ntxent,
         "pml_supcon": pml_supcon, "naive": naive}


class MatmulBound:
    """The three (2N x d)(d x 2N)-sized matmuls any NT-Xent forward + backward must do when
    it materialises the logits: S = Z Z^T, then G Z and G^T Z for the gradient (G the
    logits' gradient, here S itself). Timed like an implementation: it is the bound the
    others are divided by."""

    def __init__(self, n, d):
        self.z = torch.randn(2 * n, d)

    def __call__(self):
        s = self.z @ self.z.T
        s @ self.z
        s.T @ self.z


def pml_ntxent_matrix_gib(n: int) -> float:
    """GiB of one float32 (2N) x (2N(2N-2)) positive-pair x negative-pair matrix."""
    return (2 * n) * (2 * n) * (2 * n - 2) * 4 / 2**30


# ---- helpers -------------------------------------------------------------------------------


def make_batch(n, d, seed, *, noise=1.0, scale=None, hard_fraction=0.0, dtype=torch.float32):
    """z2 = z1 + noise * N(0, I); the last ``hard_fraction`` of the pairs get an unrelated z2
    (their positive is no more similar than a random negative). ``scale``: rows of that norm."""
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64)
    z2 = z1 + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    n_hard = int(round(hard_fraction * n))
    if n_hard:
        z2[n - n_hard :] = torch.randn(n_hard, d, generator=g, dtype=torch.float64)
    if scale is not None:
        z1, z2 = scale * F.normalize(z1, dim=1), scale * F.normalize(z2, dim=1)
    return z1.to(dtype), z2.to(dtype)


def loss_and_grads(fn, z1, z2, tau, similarity="cosine"):
    a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    loss = fn(a, b, tau, similarity)
    ga, gb = torch.autograd.grad(loss, (a, b))
    return loss.detach(), torch.cat([ga, gb])


def compare(fn, z1, z2, tau, similarity, ref_loss, ref_grad):
    """float32 result of fn vs our float64 result.

    loss error: |loss - ref| / max(|ref|, 1) (relative for losses >= 1, absolute below, since a
    loss that underflows to ~0 has no meaningful relative error); gradient error:
    max |grad - ref| / max(max |ref|, 1e-30).
    """
    loss, grad = loss_and_grads(fn, z1, z2, tau, similarity)
    finite = bool(torch.isfinite(loss)) and bool(torch.isfinite(grad).all())
    loss_err = abs(loss.double().item() - ref_loss.item()) / max(abs(ref_loss.item()), 1.0)
    grad_err = (grad.double() - ref_grad).abs().max() / max(ref_grad.abs().max().item(), 1e-30)
    return {
        "finite": finite,
        "loss": loss.item(),
        "loss_rel_err": loss_err if finite else None,
        "grad_rel_err": grad_err.item() if finite else None,
    }


def step(fn, z1, z2, tau):
    z1.grad = z2.grad = None
    fn(z1, z2, tau).backward()


def git_state() -> dict:
    root = Path(__file__).resolve().parents[1]

    def run(*args):
        try:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    # dirty = code differs from the commit; result files (results/, where the other
    # benchmarks and runs write) do not count, as in repro.provenance
    dirty = run("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
    return {"commit": run("rev-parse", "HEAD") or None, "dirty": bool(dirty)}


# ---- memory: one forward + backward in a fresh process ---------------------------------------

_PROBE = """
import json, sys, time, torch
sys.path.insert(0, {root!r})
torch.set_num_threads({threads})
from methods.common.infonce import nt_xent
from methods.common.infonce_blockwise import nt_xent_blockwise
g = torch.Generator().manual_seed(0)
z1 = torch.randn({n}, {d}, generator=g, requires_grad=True)
z2 = torch.randn({n}, {d}, generator=g, requires_grad=True)
(z1.sum() + z2.sum()).backward()  # the gradient buffers exist before the measurement
z1.grad.zero_(); z2.grad.zero_()
def status(key):  # kB, from /proc (ru_maxrss would carry the parent's peak across exec)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
before = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
t0 = time.perf_counter()
if {impl!r} == "blockwise":
    loss = nt_xent_blockwise(z1, z2, temperature={tau}, block={block})
else:
    loss = nt_xent(z1, z2, temperature={tau})
loss.backward()
wall = time.perf_counter() - t0
peak = status("VmHWM")
print(json.dumps({{"extra_mib": (peak - before) / 1024, "peak_mib": peak / 1024,
                  "wall_s": wall, "loss": loss.item()}}))
"""


def memory_probe(impl, n, args):
    """Peak RSS added by one forward + backward of ``impl`` at N pairs (fresh process, inputs
    and their gradient buffers allocated before), its total peak RSS and wall time."""
    code = _PROBE.format(root=str(Path(__file__).resolve().parents[1]), threads=args.threads,
                         n=n, d=args.dim, impl=impl, tau=args.tau, block=BLOCK)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=3600)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def dense_logits_gib(n):
    """GiB of one float32 (2N x 2N) logits matrix (the dense loss keeps several)."""
    return (2 * n) ** 2 * 4 / 2**30


# ---- 1. speed -----------------------------------------------------------------------------


def bench_size(n, args, log):
    d, tau = args.dim, args.tau
    z1, z2 = make_batch(n, d, seed=n, dtype=torch.float32)
    runnable = {}
    for name in IMPLS:
        if name == "pml_ntxent" and pml_ntxent_matrix_gib(n) > args.pml_max_gib:
            runnable[name] = (
                f"not run: its 2N x 2N(2N-2) pair matrix needs {pml_ntxent_matrix_gib(n):,.3g} GiB "
                f"per float32 copy (limit --pml-max-gib {args.pml_max_gib:g})"
            )
        else:
            runnable[name] = None
    todo = [name for name in IMPLS if runnable[name] is None]

    # agreement before timing: every float32 implementation vs our float64 loss and gradients
    ref_loss, ref_grad = loss_and_grads(ours, z1.double(), z2.double(), tau)
    agreement = {
        name: compare(FUNCS[name], z1, z2, tau, "cosine", ref_loss, ref_grad) for name in todo
    }
    for name, a in agreement.items():
        a["agrees"] = bool(
            a["finite"]
            and a["loss_rel_err"] <= args.agree_rtol
            and a["grad_rel_err"] <= args.agree_rtol
        )
        if not a["agrees"]:
            log(f"  !! N={n}: {name} disagrees with float64 NT-Xent: {a}")

    leaves = {name: (z1.clone().requires_grad_(), z2.clone().requires_grad_()) for name in todo}
    bound = MatmulBound(n, d)
    calls = {name: (lambda f=FUNCS[name], lv=leaves[name]: step(f, *lv, tau)) for name in todo}
    calls["bound"] = bound
    timed = [*todo, "bound"]
    number = {}
    for name in timed:  # warm-up, then calibrate calls per measurement to >= --min-time seconds
        for _ in range(args.warmup):
            calls[name]()
        t0 = time.perf_counter()
        calls[name]()
        once = time.perf_counter() - t0
        number[name] = max(1, math.ceil(args.min_time / max(once, 1e-9)))
    times = {name: [] for name in timed}
    for r in range(args.repeats):
        order = timed[r % len(timed) :] + timed[: r % len(timed)]  # rotate who goes first
        for name in order:
            t0 = time.perf_counter()
            for _ in range(number[name]):
                calls[name]()
            times[name].append((time.perf_counter() - t0) / number[name] * 1e3)

    rows = {}
    ours_med = statistics.median(times["ours"])
    bound_med = statistics.median(times["bound"])
    rows["bound"] = {"run": True, "median_ms": bound_med, "times_ms": times["bound"],
                     "calls_per_measurement": number["bound"]}
    # repeats are interleaved, so repeat r of every implementation saw similar machine load
    paired = {name: [t / o for t, o in zip(times[name], times["ours"])] for name in todo}
    for name in IMPLS:
        if runnable[name] is not None:
            rows[name] = {"run": False, "reason": runnable[name]}
            continue
        ts = sorted(times[name])
        med = statistics.median(ts)
        rows[name] = {
            "run": True,
            "median_ms": med,
            "min_ms": ts[0],
            "max_ms": ts[-1],
            "times_ms": times[name],
            "calls_per_measurement": number[name],
            "ratio_to_ours": med / ours_med,
            "ratio_to_bound": med / bound_med,
            "paired_ratio_min": min(paired[name]),
            "paired_ratio_max": max(paired[name]),
            "agreement_vs_float64": agreement[name],
        }
    for name in ("ours", "blockwise"):
        rows[name]["memory"] = memory_probe(name, n, args)
    log(
        f"  N={n:5d}: bound {bound_med:.2f} ms; "
        + "  ".join(
            f"{name} {rows[name]['median_ms']:.2f} ms (x{rows[name]['ratio_to_ours']:.2f}, "
            f"{rows[name]['ratio_to_bound']:.2f} bound)"
            if rows[name]["run"]
            else f"{name} not run"
            for name in IMPLS
        )
    )
    return rows


# ---- 2. finite range --------------------------------------------------------------------


def tau_scan(args, log):
    taus = [10 ** (-4 + 4 * k / (args.scan_points - 1)) for k in range(args.scan_points)]
    n, d = args.scan_n, args.dim
    batches = {
        # half the positives nearly aligned (cosine ~ 0.995, self-similarity 1 on the diagonal),
        # half unrelated (hard anchors: large losses at small tau)
        "cosine": make_batch(n, d, seed=7, noise=0.1, hard_fraction=0.5),
        # the same with rows of norm 4: dot similarities up to 16
        "dot": make_batch(n, d, seed=8, noise=0.1, hard_fraction=0.5, scale=4.0),
    }
    out = {}
    for similarity, (z1, z2) in batches.items():
        out[similarity] = {}
        refs = {
            tau: loss_and_grads(ours, z1.double(), z2.double(), tau, similarity) for tau in taus
        }
        z = torch.cat([z1, z2]).double()
        if similarity == "cosine":
            z = F.normalize(z, dim=1)
        sim = z @ z.T
        # exp(s / tau) overflows float32 once s / tau > log(float32 max) = 88.72
        s_max = sim.max().item()
        out[similarity]["max_similarity_incl_self"] = s_max
        out[similarity]["max_similarity_off_diagonal"] = sim.fill_diagonal_(-math.inf).max().item()
        out[similarity]["exp_overflow_below_tau"] = s_max / math.log(torch.finfo(torch.float32).max)
        for name in IMPLS:
            per_tau = []
            for tau in taus:
                c = compare(FUNCS[name], z1, z2, tau, similarity, *refs[tau])
                per_tau.append({"tau": tau, **c})
            finite = [p["tau"] for p in per_tau if p["finite"]]
            nonfinite = [p["tau"] for p in per_tau if not p["finite"]]
            accurate = [
                p["tau"]
                for p in per_tau
                if p["finite"] and p["loss_rel_err"] <= 1e-3 and p["grad_rel_err"] <= 1e-3
            ]
            out[similarity][name] = {
                "largest_nonfinite_tau": max(nonfinite) if nonfinite else None,
                "smallest_finite_tau": min(finite) if finite else None,
                "smallest_accurate_tau": min(accurate) if accurate else None,
                "finite_set_is_upward_closed": all(
                    t in finite for t in taus if finite and t >= min(finite)
                ),
                "per_tau": per_tau,
            }
        log(
            f"  {similarity}: "
            + "  ".join(
                f"{name}: nonfinite<= {out[similarity][name]['largest_nonfinite_tau']}"
                for name in IMPLS
            )
        )
    return {"taus": taus, "n": n, "d": d, "results": out}


# ---- report ---------------------------------------------------------------------------------


def fmt_tau(t):
    return "none" if t is None else f"{t:.3g}"


def markdown(res) -> str:
    p = res["provenance"]
    cfg = res["config"]
    lines = [
        "# NT-Xent benchmark: ours vs pytorch-metric-learning vs naive",
        "",
        f"Generated by `{cfg['command']}` on {p['date_utc']}.",
        "",
        f"torch {p['torch']}, pytorch-metric-learning {p['pytorch_metric_learning']}, "
        f"Python {p['python']}; CPU: {p['cpu_model']} ({p['logical_cpus']} logical CPUs); "
        f"`torch.set_num_threads({p['torch_threads']})`; load average at start / end "
        f"{p['loadavg_start']} / {p['loadavg_end']}; git {p['git']['commit']}"
        f"{' (dirty tree)' if p['git']['dirty'] else ''}.",
        "",
        f"## Forward + backward time (float32, CPU, d = {cfg['dim']}, cosine, tau = {cfg['tau']})",
        "",
        f"Median over {cfg['repeats']} interleaved repeats after {cfg['warmup']} warm-up calls "
        f"(each measurement >= {cfg['min_time']:g} s of calls); "
        "(xR) = implementation median / ours median (> 1: slower than ours), "
        "[a-b] = range of the per-repeat paired ratios. "
        "Before timing, each float32 loss and its input gradients are checked against our "
        f"float64 NT-Xent (tolerance {cfg['agree_rtol']:g}, relative); a failure would be "
        "marked **disagrees**.",
        "",
        "| N | " + " | ".join(LABELS[name] for name in IMPLS) + " |",
        "|---|" + "---|" * len(IMPLS),
    ]
    for n, rows in res["speed"].items():
        cells = []
        for name in IMPLS:
            r = rows[name]
            if not r["run"]:
                cells.append("not run (O(N³) memory)")
            else:
                agree = "" if r["agreement_vs_float64"]["agrees"] else " **disagrees**"
                spread = (
                    ""
                    if name == "ours"
                    else f" [{r['paired_ratio_min']:.2f}-{r['paired_ratio_max']:.2f}]"
                )
                cells.append(f"{r['median_ms']:.2f} ms (x{r['ratio_to_ours']:.2f}{spread}){agree}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    for n, rows in res["speed"].items():
        for name in IMPLS:
            if not rows[name]["run"]:
                lines += ["", f"N = {n}, {LABELS[name]} {rows[name]['reason']}."]
    verdicts = []
    for n, rows in res["speed"].items():
        pml = [name for name in ("pml_ntxent", "pml_supcon") if rows[name]["run"]]
        faster = [LABELS[name] for name in pml if rows[name]["ratio_to_ours"] < 1]
        skipped = [LABELS[name] for name in ("pml_ntxent", "pml_supcon") if name not in pml]
        verdicts.append(
            f"N = {n}: "
            + (
                "NOT met, slower than " + ", ".join(faster)
                if faster
                else "met vs " + ", ".join(LABELS[name] for name in pml)
            )
            + (f" ({', '.join(skipped)} not run)" if skipped else "")
        )
    lines += [
        "",
        "Goal (ours no slower than pytorch-metric-learning): " + "; ".join(verdicts) + ".",
    ]
    lines += blockwise_section(res)
    lines += [
        "",
        "Agreement with float64 (max relative error of loss / of gradients):",
        "",
        "| N | " + " | ".join(LABELS[name] for name in IMPLS) + " |",
        "|---|" + "---|" * len(IMPLS),
    ]
    for n, rows in res["speed"].items():
        cells = []
        for name in IMPLS:
            r = rows[name]
            if not r["run"]:
                cells.append("-")
            else:
                a = r["agreement_vs_float64"]
                cells.append(f"{a['loss_rel_err']:.1e} / {a['grad_rel_err']:.1e}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    sc = res["tau_scan"]
    lines += [
        "",
        f"## Finite range in float32 (N = {sc['n']}, d = {sc['d']}, "
        f"{len(sc['taus'])} tau values log-spaced over 1e-4..1)",
        "",
        "Loss and input gradients counted finite only if all are finite. "
        "'accurate from' = smallest tau at which loss and gradients are within 1e-3 (relative) "
        "of the float64 NT-Xent.",
        "",
        "| similarity (max s incl. self; exp(s/tau) overflows below tau =) | implementation | "
        "largest tau NOT finite | "
        "smallest finite tau | accurate from tau |",
        "|---|---|---|---|---|",
    ]
    for similarity, per in sc["results"].items():
        for name in IMPLS:
            r = per[name]
            lines.append(
                f"| {similarity} ({per['max_similarity_incl_self']:.3g}; "
                f"{per['exp_overflow_below_tau']:.3g}) | {LABELS[name]} | "
                f"{fmt_tau(r['largest_nonfinite_tau'])} | {fmt_tau(r['smallest_finite_tau'])} | "
                f"{fmt_tau(r['smallest_accurate_tau'])} |"
            )
    lines.append("")
    return "\n".join(lines)


def blockwise_section(res) -> list[str]:
    """The blockwise loss against the dense one and against the three-matmul bound."""
    cfg = res["config"]
    lines = [
        "",
        f"## Blockwise vs dense vs the matmul bound (block {cfg['block']})",
        "",
        "bound = the three (2N x d)(d x 2N)-sized matmuls a dense NT-Xent forward + backward "
        "does, timed in the same interleaved repeats; ÷ bound = median / bound median. "
        "Memory = peak RSS added by one forward + backward in a fresh process (inputs and "
        "their gradient buffers already allocated).",
        "",
        "| N | bound | dense `nt_xent` (÷ bound) | blockwise (÷ bound) | blockwise ÷ dense | "
        "memory dense | memory blockwise |",
        "|---|---|---|---|---|---|---|",
    ]

    def mem(r):
        m = r.get("memory") or {}
        return f"{m['extra_mib']:.0f} MiB" if "extra_mib" in m else m.get("error", "-")

    for n, rows in res["speed"].items():
        o, b = rows["ours"], rows["blockwise"]
        lines.append(
            f"| {n} | {rows['bound']['median_ms']:.1f} ms | {o['median_ms']:.1f} ms "
            f"({o['ratio_to_bound']:.2f}) | {b['median_ms']:.1f} ms ({b['ratio_to_bound']:.2f}) "
            f"| {b['median_ms'] / o['median_ms']:.2f} | {mem(o)} | {mem(b)} |")
    large = res.get("large")
    if large:
        b = large["blockwise"]
        if "peak_mib" in b:
            lines += ["", f"N = {large['n']:,} pairs, d = {large['dim']}: the blockwise loss ran "
                      f"forward + backward in {b['wall_s']:.1f} s with a peak RSS of "
                      f"{b['peak_mib'] / 1024:.2f} GiB for the whole process "
                      f"({'within' if large['within_limit'] else 'NOT within'} the "
                      f"{large['max_gib']:g} GiB goal); the dense loss was not run: one float32 "
                      f"copy of its logits alone is {large['dense_logits_gib']:.0f} GiB."]
        else:
            lines += ["", f"N = {large['n']:,}: the blockwise run failed: {b.get('error')}"]
    sw = res.get("switch_point_n")
    lines += ["", "Switch point (smallest N measured where blockwise is no slower than dense): "
              + (f"N = {sw}." if sw else "none among the sizes measured.")]
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--tau", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (recorded)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per measurement")
    ap.add_argument("--pml-max-gib", type=float, default=2.0)
    ap.add_argument("--agree-rtol", type=float, default=1e-4)
    ap.add_argument("--block", type=int, default=DEFAULT_BLOCK, help="blockwise rows per block")
    ap.add_argument("--large-n", type=int, default=65536,
                    help="pairs for the linear-memory run of the blockwise loss (0: skip)")
    ap.add_argument("--large-max-gib", type=float, default=4.0,
                    help="the peak RSS the large run must stay within")
    ap.add_argument("--scan-n", type=int, default=128)
    ap.add_argument("--scan-points", type=int, default=41)
    args = ap.parse_args(argv)
    if args.repeats < 5:
        ap.error("--repeats must be >= 5")

    global BLOCK
    BLOCK = args.block
    torch.set_num_threads(args.threads)
    start_load = os.getloadavg()

    def log(msg):
        print(msg, flush=True)

    log(f"threads={torch.get_num_threads()} load={start_load}")
    log("speed:")
    speed = {str(n): bench_size(n, args, log) for n in args.sizes}
    large = None
    if args.large_n:
        log(f"linear memory: blockwise at N={args.large_n} ...")
        large = {"n": args.large_n, "dim": args.dim, "block": BLOCK,
                 "max_gib": args.large_max_gib,
                 "dense_logits_gib": dense_logits_gib(args.large_n),
                 "blockwise": memory_probe("blockwise", args.large_n, args)}
        b = large["blockwise"]
        large["within_limit"] = bool("peak_mib" in b and b["peak_mib"] <= 1024 * args.large_max_gib)
        log(f"  {b}")
    switch = next((int(n) for n, rows in speed.items()
                   if rows["blockwise"]["median_ms"] <= rows["ours"]["median_ms"]), None)
    log("tau scan:")
    scan = tau_scan(args, log)
    res = {
        "config": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "dtype": "float32",
            "device": "cpu",
            "similarity": "cosine",
        },
        "provenance": {
            "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "pytorch_metric_learning": pytorch_metric_learning.__version__,
            "python": platform.python_version(),
            "cpu_model": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "loadavg_start": [round(x, 2) for x in start_load],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(),
            "git": git_state(),
        },
        "speed": speed,
        "large": large,
        "switch_point_n": switch,
        "tau_scan": scan,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "infonce.json").write_text(dumps_json(res, 2))
    (args.out / "infonce.md").write_text(markdown(res))
    log(f"wrote {args.out / 'infonce.json'} and {args.out / 'infonce.md'}")


if __name__ == "__main__":
    main()
