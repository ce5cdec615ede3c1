"""The unit cache: reuse, invalidation by everything a unit depends on, corrupt entries,
derived seeds, and the process pool giving the serial numbers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import warnings

import pytest

from repro import cache as cache_mod
from repro.cache import UnitCache, _dir_digest, source_fingerprint, unit_key
from repro.plan import derive_seed, plan
from repro.schema import load_claim


@pytest.fixture
def unit(ws):
    claim = load_claim(ws.write(ws.claim()))
    return plan(claim, "smoke")[0]


def test_unchanged_rerun_comes_from_cache(ws, unit_metrics):
    p = ws.write(ws.claim(sweep={"mean": [0.0, 1.0]}))
    first = ws.run(p)
    n = len(first.record["units"])
    assert n == 6 and first.record["timing"]["cached_units"] == 0
    assert len(ws.cache_entries()) == n
    again = ws.run(p)
    assert again.record["timing"]["cached_units"] == n
    assert again.record["timing"]["compute_s"] == 0
    assert all(u["cached"] for u in again.record["units"])
    assert unit_metrics(again.record) == unit_metrics(first.record)
    assert again.record["checks"] == first.record["checks"]
    fresh = ws.run(p, use_cache=False)
    assert fresh.record["timing"]["cached_units"] == 0
    assert not any(u["cached"] for u in fresh.record["units"])
    assert unit_metrics(fresh.record) == unit_metrics(first.record)  # deterministic


def test_changing_a_param_reruns_only_what_changed(ws):
    p = ws.write(ws.claim(sweep={"mean": [0.0, 1.0]}))
    ws.run(p)
    p.write_text(p.read_text().replace("- 1.0\n", "- 2.0\n"))  # sweep 0.0, 2.0
    res = ws.run(p, write=False)
    assert sorted(u["point"]["mean"] for u in res.record["units"]) == [0.0] * 3 + [2.0] * 3
    assert [u["cached"] for u in res.record["units"]] == [True] * 3 + [False] * 3


def test_key_is_stable_and_order_free(unit):
    k = unit_key(unit, "cpu")
    assert re.fullmatch(r"[0-9a-f]{64}", k)
    assert unit_key(unit, "cpu") == k
    reordered = dataclasses.replace(unit, params=dict(reversed(list(unit.params.items()))))
    assert list(reordered.params) != list(unit.params)
    assert unit_key(reordered, "cpu") == k


@pytest.mark.parametrize("change", ["param", "new_param", "seed", "scale", "experiment"])
def test_key_changes_with_inputs(unit, change):
    if change == "param":
        other = dataclasses.replace(unit, params={**unit.params, "mean": 1.5})
    elif change == "new_param":
        other = dataclasses.replace(unit, params={**unit.params, "noise": 0.0})
    elif change == "seed":
        other = dataclasses.replace(unit, seed=unit.seed + 1)
    elif change == "scale":
        other = dataclasses.replace(unit, scale="default")
    else:
        other = dataclasses.replace(unit, experiment="toy_slow")
    assert unit_key(other, "cpu") != unit_key(unit, "cpu")


def test_key_changes_with_device(unit):
    assert unit_key(unit, "cuda") != unit_key(unit, "cpu")


def test_key_changes_with_source(unit, monkeypatch):
    k = unit_key(unit, "cpu")
    monkeypatch.setattr(cache_mod, "source_fingerprint", lambda exp: "edited")
    assert unit_key(unit, "cpu") != k


def test_key_changes_with_library_versions(unit, monkeypatch):
    k = unit_key(unit, "cpu")
    monkeypatch.setattr(cache_mod, "_versions", lambda: {"torch": "0.0", "numpy": "0.0"})
    assert unit_key(unit, "cpu") != k


def test_dir_digest_tracks_python_sources_only(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        (d / "sub").mkdir(parents=True)
        (d / "__init__.py").write_text("X = 1\n")
        (d / "sub" / "m.py").write_text("def f():\n    return 1\n")
    _dir_digest.cache_clear()
    da, db = _dir_digest(str(a)), _dir_digest(str(b))
    assert da == db  # same content, same digest: the path itself does not count
    (a / "sub" / "m.py").write_text("def f():\n    return 2\n")
    _dir_digest.cache_clear()
    da2, db2 = _dir_digest(str(a)), _dir_digest(str(b))
    assert da2 != da and db2 == db  # editing one file changes only its package's digest
    (a / "notes.txt").write_text("not code")
    (a / "__pycache__").mkdir()
    (a / "__pycache__" / "junk.py").write_text("ignored")
    _dir_digest.cache_clear()
    assert _dir_digest(str(a)) == da2
    (a / "sub" / "m.py").rename(a / "sub" / "n.py")  # a rename is a change
    _dir_digest.cache_clear()
    assert _dir_digest(str(a)) != da2
    _dir_digest.cache_clear()


def test_source_fingerprint_covers_package_and_the_shared_definitions_it_uses(tmp_path,
                                                                             monkeypatch):
    dirs = {name: tmp_path / name for name in ("toy", "other")}
    for d in dirs.values():
        d.mkdir()
    (dirs["toy"] / "__init__.py").write_text(
        "from methods.common.shared import used\n\ndef exp():\n    return used()\n")
    (dirs["other"] / "__init__.py").write_text("# other\n")
    shared = tmp_path / "shared.py"
    shared.write_text("K = 1\n\ndef helper():\n    return K\n\ndef used():\n"
                      "    return helper()\n\ndef unused():\n    return 2\n")
    mapping = {"methods.toy": dirs["toy"], "methods.other": dirs["other"]}
    monkeypatch.setattr(cache_mod.registry, "package_dir", lambda pkg: mapping[pkg])
    monkeypatch.setattr(cache_mod, "_module_file",
                        lambda name: shared if name == "methods.common.shared" else None)

    def fp() -> str:
        _dir_digest.cache_clear()
        cache_mod._shared_digest.cache_clear()
        cache_mod._module_index.cache_clear()
        return source_fingerprint("toy_gaussian")

    def edit(old: str, new: str) -> None:
        shared.write_text(shared.read_text().replace(old, new))

    base = fp()
    assert source_fingerprint("toy_nan") == base  # same package, same fingerprint
    (dirs["other"] / "__init__.py").write_text("# another paper edited\n")
    assert fp() == base  # another paper's edit leaves this one's units valid
    edit("return 2", "return 3")
    assert fp() == base  # a shared function this package does not use
    edit("def unused", "def added():\n    return 0\n\ndef unused")
    assert fp() == base  # a function added for another paper
    edit("K = 1\n", "K = 1  # a comment\n")
    assert fp() == base  # comments are not code
    edit("return K", "return K + 0")
    after_helper = fp()
    assert after_helper != base  # a helper the used function calls (transitively)
    edit("K = 1", "K = 2")
    after_const = fp()
    assert after_const not in (base, after_helper)  # module-level statements always count
    (dirs["toy"] / "__init__.py").write_text("# this paper edited\n")
    assert fp() not in (base, after_helper, after_const)
    _dir_digest.cache_clear()
    cache_mod._shared_digest.cache_clear()
    cache_mod._module_index.cache_clear()


def _single_entry_run(ws):
    p = ws.write(ws.claim())
    first = ws.run(p)
    entries = ws.cache_entries()
    assert len(entries) == 3
    return p, first, entries


@pytest.mark.parametrize("damage", ["truncate", "garbage", "edit_value", "not_a_dict",
                                    "wrong_key", "binary"])
def test_corrupt_entry_is_reported_and_recomputed(ws, unit_metrics, damage):
    p, first, entries = _single_entry_run(ws)
    victim = entries[1]
    text = victim.read_text()
    if damage == "truncate":
        victim.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        victim.write_text("")
    elif damage == "edit_value":
        entry = json.loads(text)
        entry["record"]["metrics"]["x"] += 1.0  # checksum no longer matches
        victim.write_text(json.dumps(entry))
    elif damage == "not_a_dict":
        victim.write_text("[1, 2, 3]")
    elif damage == "wrong_key":
        entry = json.loads(text)
        entry["key"] = "0" * 64
        victim.write_text(json.dumps(entry))
    else:
        victim.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.warns(UserWarning, match=re.escape(str(victim))):
        res = ws.run(p)
    assert res.record["timing"]["cached_units"] == 2
    assert unit_metrics(res.record) == unit_metrics(first.record)
    assert res.verdict == first.verdict
    # the entry was rewritten and is trusted again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ws.run(p).record["timing"]["cached_units"] == 3


def test_put_is_atomic_and_leaves_no_temp_files(tmp_path):
    c = UnitCache(tmp_path / "c")
    key = "ab" + "0" * 62
    c.put(key, {"status": "ok", "metrics": {"x": 1.0}, "wall_s": 0.1})
    assert c.get(key) == {"status": "ok", "metrics": {"x": 1.0}, "wall_s": 0.1}
    assert [q.name for q in (tmp_path / "c").rglob("*")] == ["ab", f"{key}.json"]
    assert c.get("cd" + "0" * 62) is None


def test_derive_seed():
    digest = hashlib.sha256(b"repro:toy_claim:0").digest()
    expected = int.from_bytes(digest[:4], "big") & (2**31 - 1)
    assert derive_seed("toy_claim", 0) == expected  # pinned: changing it orphans every cache
    assert derive_seed("toy_claim", 0) == derive_seed("toy_claim", 0)
    seeds = [derive_seed("toy_claim", i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert all(0 <= s < 2**31 for s in seeds)
    others = [derive_seed("toy_other", i) for i in range(1000)]
    assert not set(seeds) & set(others)


def test_seeds_are_shared_across_sweep_points(ws):
    claim = load_claim(ws.write(ws.claim(sweep={"mean": [0.0, 1.0, 2.0], "sd": [0.1, 0.2]})))
    units = plan(claim, "smoke")
    assert len(units) == 6 * 3
    by_index: dict[int, set[int]] = {}
    for u in units:
        by_index.setdefault(u.seed_index, set()).add(u.seed)
    assert all(len(s) == 1 for s in by_index.values())  # one seed per index, every point
    assert len({next(iter(s)) for s in by_index.values()}) == 3  # distinct across indices
    assert {u.seed for u in units if u.seed_index == 1} == {derive_seed("toy_claim", 1)}
    assert len({unit_key(u, "cpu") for u in units}) == len(units)


def test_process_pool_matches_serial(ws, unit_metrics):
    p = ws.write(ws.claim(sweep={"mean": [0.0, 1.0]}, seeds=2,
                          checks=[{"name": "nonneg", "metric": "x", "op": "at_least",
                                   "ref": -0.5, "why": "toy"}]))
    serial = ws.run(p, write=False)
    pooled = ws.run(p, jobs=2, use_cache=False, write=False)
    assert pooled.record["timing"]["cached_units"] == 0
    assert all(u["status"] == "ok" for u in pooled.record["units"])
    assert unit_metrics(pooled.record) == unit_metrics(serial.record)
    assert pooled.record["checks"] == serial.record["checks"]
    assert pooled.verdict == serial.verdict == "reproduced"


def test_shared_imports_resolve_absolute_and_relative_imports():
    from repro.cache import _shared_imports

    src = ("from . import experiments\nfrom .data import x\n"
           "from methods.common.infonce import info_nce\nimport methods.common.seeding\n")
    got = _shared_imports(src, "methods.paper", is_package=True, exclude="methods.paper")
    assert {"methods.common.infonce", "methods.common.seeding"} <= got
    assert not any(n.startswith("methods.paper") for n in got)
    # inside a shared module, its sibling imports are followed
    got = _shared_imports("from .seeding import numpy_rng\n", "methods.common.infonce",
                          is_package=False, exclude="methods.paper")
    assert "methods.common.seeding" in got


def test_a_shared_module_invalidates_only_the_papers_that_import_it():
    """The GMM package does not use infonce_grad, so editing it must not touch GMM units."""
    from repro import registry
    from repro.cache import shared_modules

    registry.discover()
    gmm = shared_modules("methods.gmm_infonce")
    spectral = shared_modules("methods.spectral_bounds")
    assert "methods.common.infonce" in gmm and "methods.common.seeding" in gmm
    assert "methods.common.infonce_grad" not in gmm
    assert "methods.common.infonce_grad" in spectral
    assert shared_modules("methods.toy") == {}
