"""Reading the files users hand us, with the one-line errors the CLI prints.

Every reader of a user file (area files, plans, waypoints, configs, telemetry, frame
indexes, scenarios, baselines) goes through here, so each gets the same bounds:

- at most ``max_bytes`` are read (a file that is larger is refused, never loaded);
- the text is UTF-8 (a byte-order mark is allowed, as Excel's "CSV UTF-8" writes one)
  or UTF-16/UTF-32 with a byte-order mark (as Windows Notepad and PowerShell write);
  UTF-16 without a mark is recognised from its zero bytes; anything else is refused
  with the offset of the first byte that is not text;
- JSON and YAML documents are nested at most :data:`MAX_NESTING` deep, hold no
  duplicate keys, and JSON numbers are finite (``NaN``, ``Infinity`` and ``1e400``
  are not JSON numbers); a YAML document may not expand its aliases into more than
  :data:`MAX_YAML_NODES` nodes ("billion laughs");
- an error quotes at most :data:`EXCERPT_CHARS` characters of what it rejects.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import math
import os
import reprlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from drone_patrol.core.errors import DronePatrolError, InputError

__all__ = [
    "EXCERPT_CHARS",
    "MAX_FILE_BYTES",
    "MAX_NESTING",
    "MAX_YAML_NODES",
    "MAX_YAML_TOKENS",
    "AtomicText",
    "check_nesting",
    "decode_user_bytes",
    "excerpt",
    "parse_user_json",
    "parse_user_yaml",
    "read_user_bytes",
    "read_user_csv",
    "read_user_json",
    "read_user_text",
    "read_user_yaml",
]

#: the largest user file read (area files, plans, configs, telemetry logs)
MAX_FILE_BYTES = 64 * 1024 * 1024
#: the deepest nesting of lists and mappings a JSON or YAML document may have
MAX_NESTING = 64
#: the most nodes a YAML document may expand to once its aliases are followed
MAX_YAML_NODES = 200_000
#: the most values and lines a YAML document may have (PyYAML takes ~10 us a value)
MAX_YAML_TOKENS = 50_000
#: the most characters of a rejected value an error message quotes
EXCERPT_CHARS = 60

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_repr = reprlib.Repr()
_repr.maxlevel = 2
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 4
_repr.maxstring = EXCERPT_CHARS
_repr.maxother = EXCERPT_CHARS
_repr.maxlong = 24


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, safe on huge or self-referencing values."""
    try:
        text = _repr.repr(value)
    except Exception:  # a value whose repr fails is still named by its type
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_user_bytes(
    path: str | Path, what: str, error: type[DronePatrolError], max_bytes: int = MAX_FILE_BYTES
) -> bytes:
    """The bytes of ``path``, at most ``max_bytes`` of them; ``error`` naming the file and ``what`` otherwise."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(f"{p}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{p}: is a directory, expected a {what}") from None
    except OSError as exc:
        raise error(f"{p}: cannot read {what} ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise error(f"{p}: {what} is larger than {_size(max_bytes)}; refusing to read it")
    return data


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def decode_user_bytes(data: bytes, source: str | Path, what: str, error: type[DronePatrolError]) -> str:
    """``data`` as text: UTF-8, or UTF-16/32 with a byte-order mark, or UTF-16 recognised by its zero bytes."""
    encoding = "utf-8"
    body = data
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, body = name, data[len(bom) :]
            break
    else:
        guessed = _guess_utf16(data)
        if guessed:
            encoding = guessed
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(data) - len(body))
        bad = body[exc.start : exc.start + 1].hex()
        raise error(
            f"{source}: cannot read {what}: not {encoding.upper()} text (byte 0x{bad} at offset {offset}); "
            "save it as UTF-8"
        ) from None


def _guess_utf16(data: bytes) -> str | None:
    """UTF-16 without a byte-order mark, from the zero bytes of ASCII text (as Notepad's "Unicode" writes it)."""
    head = data[:256]
    if len(head) < 4 or len(head) % 2:
        head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even_zero = sum(1 for b in head[0::2] if b == 0)
    odd_zero = sum(1 for b in head[1::2] if b == 0)
    half = len(head) // 2
    # Text has no NUL bytes in UTF-8; in UTF-16 every ASCII character brings one, on one side.
    if odd_zero >= 0.3 * half and even_zero <= 0.02 * half:
        return "utf-16-le"
    if even_zero >= 0.3 * half and odd_zero <= 0.02 * half:
        return "utf-16-be"
    return None


def read_user_text(
    path: str | Path,
    what: str,
    error: type[DronePatrolError],
    encoding: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> str:
    """The text of ``path`` (see :func:`decode_user_bytes`); ``error`` naming the file and ``what`` otherwise.

    ``encoding`` forces one codec instead of the detection; a NUL character is refused as binary data.
    """
    p = Path(path)
    data = read_user_bytes(p, what, error, max_bytes)
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise error(f"{p}: cannot read {what}: not {encoding} text (byte at offset {exc.start})") from None
    text = decode_user_bytes(data, p, what, error)
    nul = text.find("\0")
    if nul >= 0:
        raise error(f"{p}: cannot read {what}: binary data (a NUL character at offset {nul}), expected text")
    return text


def check_nesting(value: Any, source: str | Path, what: str, error: type[DronePatrolError]) -> None:
    """Refuse ``value`` when its lists and mappings nest deeper than :data:`MAX_NESTING` (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list | tuple):
            if depth > MAX_NESTING:
                raise error(f"{source}: cannot read {what}: nested deeper than {MAX_NESTING} levels")
            if id(node) in seen:
                continue
            seen.add(id(node))
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:EXCERPT_CHARS]} is out of range")
    return value


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {excerpt(key)}")
        out[key] = value
    return out


def parse_user_json(text: str, source: str | Path, what: str, error: type[DronePatrolError]) -> Any:
    """The JSON document in ``text``; ``error`` with the line and column of a syntax error.

    Refused besides syntax errors: duplicate keys, NaN/Infinity and numbers out of the
    float range, nesting deeper than :data:`MAX_NESTING`.
    """
    try:
        value = json.loads(
            text, parse_float=_finite_float, parse_constant=_refuse_constant, object_pairs_hook=_unique_object
        )
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise error(f"{source}: cannot read {what}: not valid JSON ({where}: {exc.msg})") from None
    except RecursionError:
        raise error(f"{source}: cannot read {what}: nested deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:
        raise error(f"{source}: cannot read {what}: {exc}") from None
    check_nesting(value, source, what, error)
    return value


def read_user_json(path: str | Path, what: str, error: type[DronePatrolError], max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The JSON document in ``path`` (see :func:`parse_user_json`)."""
    return parse_user_json(read_user_text(path, what, error, max_bytes=max_bytes), path, what, error)


#: libyaml's parser when PyYAML was built with it (ten times faster), else the pure-Python one
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlLoader(_SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader that refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = self.construct_scalar(key_node)
                if key in seen:
                    mark = key_node.start_mark
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {excerpt(key)}", mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_size(root: yaml.Node, source: str | Path, what: str, error: type[DronePatrolError]) -> None:
    """Refuse a node graph that nests too deep, refers to itself or expands past :data:`MAX_YAML_NODES`."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    # iterative post-order walk: (node, depth, children expanded?)
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_YAML_NODES:
                raise error(f"{source}: cannot read {what}: its aliases expand to more than {MAX_YAML_NODES} values")
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise error(f"{source}: cannot read {what}: an alias refers to the value that contains it")
        if children and depth > MAX_NESTING:
            raise error(f"{source}: cannot read {what}: nested deeper than {MAX_NESTING} levels")
        on_path.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _nesting_prescan(text: str, source: str | Path, what: str, error: type[DronePatrolError]) -> None:
    """Refuse YAML nested past :data:`MAX_NESTING` before PyYAML scans it.

    PyYAML's scanner slows quadratically with the nesting (100,000 ``[`` take most of a
    minute, 1,400 indented levels ten seconds), so the depth is counted first: flow
    brackets outside quotes and comments, and block indentation.
    """
    # Block nesting: one level per deeper indentation (and per "- " that opens a compact sequence).
    indents: list[int] = []
    for line in text.splitlines():
        body = line.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        column = len(line) - len(body)
        while indents and column < indents[-1]:
            indents.pop()
        if not indents or column > indents[-1]:
            indents.append(column)
        dashes = len(body) - len(body.lstrip("- ")) if body.startswith("- ") else 0
        if len(indents) + dashes // 2 > MAX_NESTING:
            raise error(f"{source}: cannot read {what}: nested deeper than {MAX_NESTING} levels")
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return  # too few brackets to nest too deep: skip the character scan
    depth = 0
    quote = ""
    comment = False
    previous = "\n"
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'" and previous in " \t\n[{,:-":
            quote = ch
        elif ch == "#" and previous in " \t\n":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise error(f"{source}: cannot read {what}: nested deeper than {MAX_NESTING} levels")
        elif ch in "]}":
            depth = max(0, depth - 1)
        previous = ch


def parse_user_yaml(text: str, source: str | Path, what: str, error: type[DronePatrolError]) -> Any:
    """The YAML document in ``text`` (safe types only); ``error`` with the line of a problem.

    Refused besides syntax errors: duplicate keys, nesting deeper than :data:`MAX_NESTING`,
    aliases that expand past :data:`MAX_YAML_NODES` values or refer to themselves.
    """
    _nesting_prescan(text, source, what, error)
    values = text.count(",") + text.count("\n") + text.count("- ")
    if values > MAX_YAML_TOKENS:
        raise error(f"{source}: cannot read {what}: more than {MAX_YAML_TOKENS} values and lines")
    loader: _YamlLoader | None = None
    try:
        loader = _YamlLoader(text)  # refuses control characters already here
        node = loader.get_single_node()
        if node is None:
            return None
        _yaml_size(node, source, what, error)
        value = loader.construct_document(node)
        check_nesting(value, source, what, error)
        return value
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
        detail = f": {_cut(problem, 120)}" if isinstance(problem, str) and problem else ""
        raise error(f"{source}: cannot read {what}: not valid YAML{where}{detail}") from None
    except RecursionError:
        raise error(f"{source}: cannot read {what}: nested deeper than {MAX_NESTING} levels") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_user_yaml(path: str | Path, what: str, error: type[DronePatrolError], max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The YAML document in ``path`` (see :func:`parse_user_yaml`)."""
    return parse_user_yaml(read_user_text(path, what, error, max_bytes=max_bytes), path, what, error)


def read_user_csv(
    path: str | Path, what: str, error: type[DronePatrolError], max_bytes: int = MAX_FILE_BYTES
) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header and the ``(line number, row)`` pairs of a CSV file with a header line.

    Header names are stripped of spaces (and of the byte-order mark Excel writes); a
    malformed line is ``error`` naming the file and the line.
    """
    p = Path(path)
    text = read_user_text(p, what, error, max_bytes=max_bytes)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise error(f"{p}: line 1: cannot read {what} ({exc})") from None
    if not header:
        raise error(f"{p}: {what} is empty (expected a header line)")
    names = [h.strip() for h in header]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        while True:
            try:
                cols = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise error(f"{p}: line {reader.line_num}: cannot read {what} ({exc})") from None
            if not any(c.strip() for c in cols):
                continue
            yield reader.line_num, {n: (cols[i] if i < len(cols) else "") for i, n in enumerate(names)}

    return names, rows()


class AtomicText:
    """A text file written beside ``path`` and renamed over it only on :meth:`commit`.

    Until then an existing ``path`` stays as it was, so a run that fails half-way never
    leaves an emptied or half-written output behind.
    """

    def __init__(self, path: str | Path, what: str = "output file", error: type[DronePatrolError] = InputError):
        self.path = Path(path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent or ".")
        except OSError as exc:
            raise error(f"{self.path}: cannot write {what} ({exc.strerror or exc})") from None
        self._tmp = Path(tmp)
        self.file = os.fdopen(fd, "w", encoding="utf-8")

    def commit(self) -> Path:
        """Close the file and put it in place of ``path``."""
        self.file.close()
        os.replace(self._tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Close and remove the temporary file; ``path`` is untouched."""
        self.file.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()
