"""The main comparison: ``python bench/speed.py [--quick]`` is ``python -m aiolite bench``."""

from __future__ import annotations

import sys

from aiolite._cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
