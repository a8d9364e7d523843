"""One adjustment to invoke's parser: an optional leading positional.

invoke treats every positional argument as required, but ``fab info demo`` and ``fab info --all``
must both work. Positionals named in OPTIONAL_POSITIONALS may be left out; the task then asks
for a STORE or --all itself, with a clear error, before any connection opens.
"""

from __future__ import annotations

from invoke.parser import ParserContext

OPTIONAL_POSITIONALS = frozenset({"store", "client"})


def _missing_positional_args(self: ParserContext) -> list[object]:
    return [x for x in self.positional_args if x.value is None and x.name not in OPTIONAL_POSITIONALS]


ParserContext.missing_positional_args = property(_missing_positional_args)  # type: ignore[method-assign,assignment]
