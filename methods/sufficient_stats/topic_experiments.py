"""Registered experiment ``suff_topic_classification`` (brief sections 3.5 and 4).

One random topic model per seed (phi ~ Dir(dirichlet)); the well-specified contrastive model
(encoder softmax(A counts + b), critic log sum_t f_t f_t' e^gamma_t) is trained with InfoNCE
over fresh batches of randomly split documents; then

* suff_ub: E KL(pi(.|X1) || q(.|f(X1))), the sufficiency upper bound (topics.py), with q
  fitted on ``suff_fit_docs`` unlabelled documents and evaluated on the test documents;
* probe_acc: a scikit-learn multinomial logistic regression on f(X1) trained with
  ``probe_labels`` labelled documents, accuracy on ``test_docs`` held-out documents;
* bayes_half / bayes_full: the Bayes rule's accuracy from the view X1 (half the document by
  default) and from the whole document, on the same test documents; bayes_gap =
  bayes_full - bayes_half is the augmentation-induced error (what no encoder of X1 can
  recover);
* probe_acc_exact: the same probe on the exact posterior encoder (the probe's own ceiling
  with this many labels);
* curve_step / curve_suff_ub: suff_ub at log-spaced training steps (step 0 = initialisation).

Every random consumer has its own named stream (methods/common/seeding.py).
"""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from methods.common.params import is_int as _is_int
from methods.common.params import is_real as _is_real
from methods.common.params import require as _require
from methods.common.probes import logistic_probe_accuracy
from methods.common.seeding import child_seed, numpy_rng, torch_generator
from repro.registry import Unavailable, experiment

from .topics import (
    TopicEncoder,
    TopicModel,
    bayes_accuracy,
    contrastive_loss,
    make_topic_model,
    suff_upper_bound,
)

SELECT_BATCHES = 8  # unlabelled validation batches that pick the best restart


def curve_steps(steps: int, points: int) -> list[int]:
    """0 plus about ``points`` log-spaced steps in [1, steps], always ending at ``steps``."""
    grid = np.unique(np.round(np.geomspace(1, steps, max(points, 1))).astype(int))
    return [0, *[int(s) for s in grid if 1 <= s < steps], int(steps)]


def _log_f64(enc: TopicEncoder, c: torch.Tensor) -> np.ndarray:
    z = c @ enc.A.detach().to(torch.float64).T + enc.b.detach().to(torch.float64)
    return torch.log_softmax(z, dim=1).cpu().numpy()


@experiment("suff_topic_classification")
def suff_topic_classification(
    *,
    seed: int,
    device: str = "cpu",
    topics: int = 5,
    vocab: int = 100,
    doc_len: int = 12,
    view_words: int = 0,
    dirichlet: float = 1.0,
    batch: int = 256,
    steps: int = 1000,
    lr: float = 0.03,
    init_std: float = 0.1,
    restarts: int = 8,
    warmup_steps: int = 100,
    probe_labels: int = 500,
    test_docs: int = 3500,
    suff_fit_docs: int = 5000,
    curve_points: int = 12,
) -> dict:
    """Contrastive topic encoder: sufficiency upper bound and downstream topic accuracy vs Bayes.

    Knobs: the instance (topics K, vocab V, doc_len L, dirichlet beta0); the augmentation
    (view_words words per view, 0 = L/2 with L even; the rest of the document is dropped from
    both views but seen by the full-document Bayes rule); training (batch N, steps, Adam lr
    (constant), init_std of A's entries; b and gamma start at 0; ``restarts``
    initialisations trained ``warmup_steps`` steps each, the one with the lowest contrastive
    loss on unlabelled validation batches continues -- see _train);
    evaluation (probe_labels, test_docs, suff_fit_docs, curve_points).
    """
    _require(device in ("cpu", "cuda"), "device", "must be 'cpu' or 'cuda'", device)
    if device == "cuda" and not torch.cuda.is_available():
        raise Unavailable("device 'cuda' requested but torch sees no CUDA GPU; run with device=cpu")
    _require(_is_int(seed) and seed >= 0, "seed", "must be an int >= 0", seed)
    _require(_is_int(topics) and topics >= 2, "topics", "must be an int >= 2", topics)
    _require(_is_int(vocab) and vocab >= 2, "vocab", "must be an int >= 2", vocab)
    _require(_is_int(doc_len) and doc_len >= 2, "doc_len", "must be an int >= 2", doc_len)
    _require(
        _is_int(view_words) and 0 <= view_words <= doc_len // 2,
        "view_words", "must be an int in [0, doc_len // 2] (0: half the document)", view_words,
    )
    _require(
        view_words > 0 or doc_len % 2 == 0,
        "doc_len", "must be even when view_words = 0 (an even split)", doc_len,
    )
    _require(_is_real(dirichlet) and dirichlet > 0, "dirichlet", "must be a number > 0", dirichlet)
    _require(_is_int(batch) and batch >= 2, "batch", "must be an int >= 2", batch)
    _require(_is_int(steps) and steps >= 1, "steps", "must be an int >= 1", steps)
    _require(_is_real(lr) and lr > 0, "lr", "must be a number > 0", lr)
    _require(_is_real(init_std) and init_std > 0, "init_std", "must be a number > 0", init_std)
    _require(_is_int(restarts) and restarts >= 1, "restarts", "must be an int >= 1", restarts)
    _require(
        _is_int(warmup_steps) and warmup_steps >= 1,
        "warmup_steps", "must be an int >= 1", warmup_steps,
    )
    _require(
        _is_int(probe_labels) and probe_labels >= 2 * topics,
        "probe_labels", "must be an int >= 2 * topics", probe_labels,
    )
    _require(_is_int(test_docs) and test_docs >= 1, "test_docs", "must be an int >= 1", test_docs)
    _require(
        _is_int(suff_fit_docs) and suff_fit_docs >= 10 * topics,
        "suff_fit_docs", "must be an int >= 10 * topics", suff_fit_docs,
    )
    _require(
        _is_int(curve_points) and curve_points >= 1,
        "curve_points", "must be an int >= 1", curve_points,
    )

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # One BLAS thread too: the tiny L-BFGS and probe fits are dominated by thread
        # start-up and contention otherwise (10x slower on 2 shared cores).
        with threadpool_limits(1):
            return _run(
                seed=seed, device=device, topics=topics, vocab=vocab, doc_len=doc_len,
                view_words=view_words or doc_len // 2,
                dirichlet=float(dirichlet), batch=batch, steps=steps, lr=float(lr),
                init_std=float(init_std), restarts=restarts, warmup_steps=warmup_steps,
                probe_labels=probe_labels, test_docs=test_docs, suff_fit_docs=suff_fit_docs,
                curve_points=curve_points,
            )
    finally:
        torch.set_num_threads(prev_threads)


def _run(
    *, seed, device, topics, vocab, doc_len, view_words, dirichlet, batch, steps, lr, init_std,
    restarts, warmup_steps, probe_labels, test_docs, suff_fit_docs, curve_points,
) -> dict:
    model = make_topic_model(
        numpy_rng(seed, "instance"), topics=topics, vocab=vocab, dirichlet=dirichlet
    )
    # Evaluation sets (fixed before training; independent streams).
    def split(n, name):
        return model.sample_split(n, doc_len, view_words, numpy_rng(seed, name))

    fit1, _, _, _ = split(suff_fit_docs, "suff-fit-data")
    lab1, _, _, lab_t = split(probe_labels, "probe-data")
    test1, _, test_full, test_t = split(test_docs, "test-data")
    post_fit = model.log_posterior(fit1)
    post_test = model.log_posterior(test1)
    post_full = model.log_posterior(test_full)

    enc, curve_step, curve_suff, losses = _train(
        model, seed=seed, device=device, doc_len=doc_len, view_words=view_words, batch=batch,
        steps=steps,
        lr=lr, init_std=init_std, restarts=restarts,
        warmup_steps=warmup_steps, checkpoints=curve_steps(steps, curve_points),
        fit1=fit1, post_fit=post_fit, test1=test1, post_test=post_test,
    )
    lf_lab = _log_f64(enc, torch.as_tensor(lab1, dtype=torch.float64, device=device))
    lf_test = _log_f64(enc, torch.as_tensor(test1, dtype=torch.float64, device=device))

    probe_seed = child_seed(seed, "probe")
    probe_acc = logistic_probe_accuracy(np.exp(lf_lab), lab_t, np.exp(lf_test), test_t, probe_seed)
    probe_exact = logistic_probe_accuracy(
        np.exp(model.log_posterior(lab1)), lab_t, np.exp(post_test), test_t, probe_seed
    )
    bayes_half = bayes_accuracy(post_test, test_t)
    bayes_full = bayes_accuracy(post_full, test_t)
    tail = losses[-max(1, steps // 20):]
    return {
        "suff_ub": curve_suff[-1],
        "probe_acc": probe_acc,
        "probe_acc_exact": probe_exact,
        "bayes_half": bayes_half,
        "bayes_full": bayes_full,
        "bayes_gap": bayes_full - bayes_half,
        "final_loss": float(np.mean(tail)),
        "curve_step": [float(s) for s in curve_step],
        "curve_suff_ub": curve_suff,
    }


def _train(
    model: TopicModel, *, seed, device, doc_len, view_words, batch, steps, lr, init_std, restarts,
    warmup_steps, checkpoints, fit1, post_fit, test1, post_test,
):
    """Adam on the contrastive loss over fresh split-document batches; Suff_ub at checkpoints.

    Restarts: ``restarts`` random initialisations are each trained for ``warmup_steps`` steps
    (their own data streams); the one with the lowest contrastive loss on a fixed set of
    unlabelled validation batches continues (optimizer state kept) to ``steps`` in all. A
    single run falls into a collapsed local minimum (two topics merged in one output, one
    output dead) in about half of the seeds; the selection uses only the training objective
    on unlabelled documents, never labels or phi.
    """
    marks = sorted(set(checkpoints))
    val_rng = numpy_rng(seed, "select-data")
    val = [
        model.sample_split(batch, doc_len, view_words, val_rng)[:2] for _ in range(SELECT_BATCHES)
    ]
    val = [
        (torch.as_tensor(a, dtype=torch.float32, device=device),
         torch.as_tensor(b, dtype=torch.float32, device=device))
        for a, b in val
    ]

    def step_once(enc, opt, rng) -> float:
        c1, c2, _, _ = model.sample_split(batch, doc_len, view_words, rng)
        x1 = torch.as_tensor(c1, dtype=torch.float32, device=device)
        x2 = torch.as_tensor(c2, dtype=torch.float32, device=device)
        loss = contrastive_loss(enc, x1, x2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    def snapshot(enc) -> tuple[torch.Tensor, torch.Tensor]:
        return enc.A.detach().to(torch.float64).clone(), enc.b.detach().to(torch.float64).clone()

    warm = min(warmup_steps, steps) if restarts > 1 else 0
    best = None
    for r in range(restarts if warm else 1):
        enc = TopicEncoder(
            model.vocab, model.topics, init_std=init_std,
            generator=torch_generator(seed, f"init-{r}"),
        ).to(device)
        opt = torch.optim.Adam(enc.parameters(), lr=lr)
        rng = numpy_rng(seed, f"warmup-data-{r}")
        snaps = {0: snapshot(enc)} if 0 in marks else {}
        losses = []
        for step in range(1, warm + 1):
            losses.append(step_once(enc, opt, rng))
            if step in marks:
                snaps[step] = snapshot(enc)
        with torch.no_grad():
            score = float(np.mean([float(contrastive_loss(enc, a, b)) for a, b in val]))
        if best is None or score < best[0]:
            best = (score, enc, opt, snaps, losses)
    _, enc, opt, snaps, losses = best
    data_rng = numpy_rng(seed, "train-data")
    for step in range(warm + 1, steps + 1):
        losses.append(step_once(enc, opt, data_rng))
        if step in marks:
            snaps[step] = snapshot(enc)

    fit_t = torch.as_tensor(fit1, dtype=torch.float64, device=device)
    test_tt = torch.as_tensor(test1, dtype=torch.float64, device=device)

    def log_f(ab, c):
        return torch.log_softmax(c @ ab[0].T + ab[1], dim=1).cpu().numpy()

    curve_step = sorted(snaps)
    curve_suff = [
        suff_upper_bound(log_f(snaps[s], fit_t), post_fit, log_f(snaps[s], test_tt), post_test)
        for s in curve_step
    ]
    return enc, curve_step, curve_suff, losses
