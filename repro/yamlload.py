"""Safe YAML loading that remembers where every key was written.

Why not ``yaml.safe_load``: PyYAML follows YAML 1.1, where ``1e-4`` is a *string* and
``no``/``off`` are booleans, and a duplicated key silently wins. Claim files are
contracts, so we resolve numbers and booleans as YAML 1.2 does, reject duplicate keys,
and keep a map from key path to line number so every error can name its line.
No Python objects are ever constructed (SafeLoader base).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT_12 = re.compile(r"^[-+]?[0-9]+$")
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars."""


# Replace the YAML 1.1 implicit resolvers for bool/int/float with YAML 1.2 ones.
_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in rs if tag not in (
        "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:timestamp")]
    for ch, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_12, list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT_12, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    return int(loader.construct_scalar(node))


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    return float(str(loader.construct_scalar(node)).replace(".inf", "inf").replace(
        ".Inf", "inf").replace(".INF", "inf").replace(".nan", "nan").replace(
        ".NaN", "nan").replace(".NAN", "nan"))


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


class YamlProblem(Exception):
    """Malformed YAML or a duplicate key; carries the 1-based line."""

    def __init__(self, message: str, line: int | None, path: str = ""):
        self.line = line
        self.path = path
        super().__init__(message)


def _fmt(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq",
                                                   "map")}


MAX_NODES = 100_000  # a claim file is small; this stops alias bombs ("billion laughs")


def _to_python(loader: _Loader, node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if len(path) > MAX_DEPTH:  # also what a self-referencing alias (&a [*a]) comes to
        raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep (a recursive alias?); "
                          "a claim file is a few levels of plain data",
                          node.start_mark.line + 1, _fmt(path[:3]))
    if len(lines) > MAX_NODES:
        raise YamlProblem(f"more than {MAX_NODES} values (alias expansion?); a claim file is "
                          "small", node.start_mark.line + 1, _fmt(path))
    if node.tag not in _PLAIN_TAGS:
        raise YamlProblem(f"unsupported YAML tag {node.tag!r} (claim files hold plain data)",
                          node.start_mark.line + 1, _fmt(path))
    if isinstance(node, yaml.MappingNode):
        # merge keys (``<<: *base``): keys written here override merged ones, as YAML says;
        # only a key written twice *here* is a duplicate
        explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        merged: set[str] = set()
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                raise YamlProblem("mapping keys must be plain scalars", knode.start_mark.line + 1,
                                  _fmt(path))
            key = str(key) if not isinstance(key, str) else key
            if id(knode) not in explicit:
                if key in out:
                    continue  # two merged maps share a key: the first listed wins
                merged.add(key)
            elif key in out and key not in merged:
                raise YamlProblem(f"duplicate key {key!r}", knode.start_mark.line + 1,
                                  _fmt(path + (key,)))
            else:
                merged.discard(key)  # written here: a second one here is a duplicate
            out[key] = _to_python(loader, vnode, path + (key,), lines)
            lines[path + (key,)] = knode.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(loader, v, path + (i,), lines) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


MAX_DEPTH = 32  # claim files nest a few levels; deeper is garbage (and PyYAML recurses)
# The largest committed claim file is under 9 KB and holds about 1,500 YAML tokens. PyYAML's
# pure-Python scanner takes about 15 s and 600 MB per MB of flow list, so a cap on tokens,
# counted while scanning (before any tree is built), stops a huge file in bounded time.
MAX_TOKENS = 50_000
MAX_BYTES = 256 * 1024  # 30x the largest claim file; parsed in well under a second at the cap

_OPEN = (yaml.BlockSequenceStartToken, yaml.BlockMappingStartToken,
         yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)


def _check_depth(loader: _Loader) -> None:
    """Reject nesting deeper than MAX_DEPTH from the token stream (PyYAML's scanner is
    iterative, its composer recursive), naming the line where it gets too deep."""
    depth = tokens = 0
    while not loader.check_token(yaml.StreamEndToken):
        tok = loader.get_token()
        tokens += 1
        if tokens > MAX_TOKENS:
            raise YamlProblem(f"more than {MAX_TOKENS} YAML tokens; a claim file is a few "
                              "hundred (is this a data file?)", tok.start_mark.line + 1)
        if isinstance(tok, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep; a claim file is "
                                  "a few levels of plain data", tok.start_mark.line + 1)
        elif isinstance(tok, _CLOSE):
            depth -= 1


def load_with_lines(text: str) -> tuple[Any, dict[Path_, int]]:
    """Parse ``text``; return (data, {key path tuple: 1-based line})."""
    if len(text) > MAX_BYTES:
        raise YamlProblem(f"{len(text)} characters: a claim file is at most {MAX_BYTES} "
                          "(claim files are a few KB; data belongs in the data directory)", None)
    try:
        loader = _Loader(text)  # the reader rejects control characters here, before parsing
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1 if isinstance(e.position, int) else None
        raise YamlProblem(f"malformed YAML: {e.reason} (character {e.character:#06x})",
                          line) from None
    try:
        try:
            _check_depth(_Loader(text))
        except yaml.MarkedYAMLError:
            pass  # malformed: the parse below reports it with its line
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        if node is None:
            return None, lines
        return _to_python(loader, node, (), lines), lines
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        msg = " ".join(str(x) for x in (e.context, e.problem) if x)
        raise YamlProblem(f"malformed YAML: {msg}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise YamlProblem(f"malformed YAML: {e}", None) from None
    finally:
        loader.dispose()


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """Line of ``path`` or of its nearest written ancestor."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def format_path(path: Path_) -> str:
    return _fmt(path)
