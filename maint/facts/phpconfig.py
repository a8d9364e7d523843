"""Read OpenCart's config.php without running PHP.

OpenCart's own upgraders read these files with a regex over ``define()`` lines; we do the same
but with a small lexer, so comments, both quote styles, escaped quotes and 4.x expressions such
as ``DIR_OPENCART . 'system/'`` are understood. The file is never included or evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maint.errors import ConfigFileError

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<open_tag><\?php|<\?=|<\?)
  | (?P<close_tag>\?>)
  | (?P<line_comment>(?://|\#)[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<single>'(?:[^'\\]|\\.)*')
  | (?P<double>"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_\\][A-Za-z0-9_\\]*)
  | (?P<punct>[().,;=\[\]{}+\-*/:!<>?&|@$])
    """,
    re.VERBOSE | re.DOTALL,
)
_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$", "0": "\0", "v": "\v", "e": "\x1b"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    line: int


class _Unresolved(Exception):
    pass


def _tokens(text: str, file: str) -> list[Token]:
    out: list[Token] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            # Anything we don't model (heredoc, casts…) cannot be in a define() we need; step over it.
            pos += 1
            continue
        kind = m.lastgroup or ""
        if kind not in ("ws", "line_comment", "block_comment", "open_tag", "close_tag"):
            out.append(Token(kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    return out


def _unquote(token: Token, file: str) -> str:
    body = token.text[1:-1]
    if token.kind == "single":
        return re.sub(r"\\([\\'])", r"\1", body)
    if re.search(r"(?<!\\)\$[A-Za-z_{]", body):
        raise ConfigFileError(f"{file} line {token.line}: variable interpolation in a double-quoted string")

    def escape(m: re.Match[str]) -> str:
        ch = m.group(1)
        return _DOUBLE_ESCAPES.get(ch, "\\" + ch)

    return re.sub(r"\\(.)", escape, body)


def _parse_expression(tokens: list[Token], i: int, known: dict[str, str], file: str) -> tuple[str, int]:
    """Evaluate ``operand ('.' operand)*`` up to the closing parenthesis of define()."""
    parts: list[str] = []
    while True:
        tok = tokens[i]
        if tok.kind in ("single", "double"):
            parts.append(_unquote(tok, file))
        elif tok.kind == "number":
            parts.append(tok.text)
        elif tok.kind == "name":
            upper = tok.text.lower()
            if upper in ("true", "false", "null"):
                parts.append({"true": "1", "false": "", "null": ""}[upper])
            elif tok.text in known:
                parts.append(known[tok.text])
            else:
                raise _Unresolved(tok.text)
        else:
            raise _Unresolved(tok.text)
        i += 1
        if tokens[i].text == ".":
            i += 1
            continue
        return "".join(parts), i


def parse_config_php(text: str, *, file: str = "config.php") -> dict[str, str]:
    """Return every ``define('NAME', value)`` whose value can be computed from literals and earlier constants.

    Values that are not plain expressions (function calls, variables) are left out; the caller
    decides whether a missing key matters.
    """
    tokens = _tokens(text, file)
    tokens.append(Token("eof", "", 0))
    known: dict[str, str] = {}
    i = 0
    while i < len(tokens) - 1:
        tok = tokens[i]
        if tok.kind == "name" and tok.text.lower() == "define" and tokens[i + 1].text == "(":
            name_tok = tokens[i + 2]
            if name_tok.kind in ("single", "double") and tokens[i + 3].text == ",":
                name = _unquote(name_tok, file)
                try:
                    value, j = _parse_expression(tokens, i + 4, known, file)
                    if tokens[j].text == ")":
                        known[name] = value
                        i = j + 1
                        continue
                except _Unresolved:
                    pass
            i += 3
            continue
        i += 1
    return known


_VERSION_RE = re.compile(r"""define\s*\(\s*['"]VERSION['"]\s*,\s*['"]([^'"]+)['"]\s*\)""")


def parse_version_define(index_php: str) -> str | None:
    """The VERSION constant from index.php (line 3 in every release)."""
    m = _VERSION_RE.search(index_php)
    return m.group(1) if m else None
