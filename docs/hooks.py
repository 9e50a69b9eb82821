"""MkDocs hook: show the docstrings' doctest examples as Python console code.

aiolite's docstrings carry runnable ``>>>`` examples (pytest runs them). Plain
Markdown would render them as prose, where ``row[0][1]`` reads as a link
reference; this wraps each run of ``>>>`` lines, up to the next blank line,
in a ``pycon`` fence before the rest of Markdown sees it, and shows Sphinx
roles (``:class:`Pool` ``) as the code they name. It is added to
the site's Markdown extensions before mkdocstrings copies them, so the API
reference's docstrings get it too.
"""

from __future__ import annotations

import re
from typing import Any

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor
from mkdocs.plugins import event_priority

_FENCES = ("```", "~~~")
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const):`~?([^`]+)`")


class _DoctestBlocks(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        in_fence = False
        index = 0
        while index < len(lines):
            line = lines[index]
            if line.lstrip().startswith(_FENCES):
                in_fence = not in_fence
            elif not in_fence and line.startswith(">>>"):
                block = []
                while index < len(lines) and lines[index].strip():
                    block.append(lines[index])
                    index += 1
                out += ["", "```pycon", *block, "```", ""]
                continue
            out.append(line if in_fence else _ROLE.sub(r"`\1`", line))
            index += 1
        return out


class DoctestBlocksExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        md.preprocessors.register(_DoctestBlocks(md), "aiolite_doctest_blocks", 40)


@event_priority(100)  # before mkdocstrings reads the extensions
def on_config(config: Any) -> Any:
    config.markdown_extensions.append(DoctestBlocksExtension())
    return config
