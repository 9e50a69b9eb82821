"""Layer 7's command line, ``python -m aiolite``, and what it shares with ``tests/`` and ``bench/``.

- :mod:`.main`: the argument parser (``tour``, ``bench``).
- :mod:`.tour`: the guided tour; :mod:`.bench`: the comparison with aiolite's peers.
- :mod:`.runners`: how to run an async function under each framework, by
  name (asyncio, uvloop, trio, anyio-asyncio, anyio-trio), and which are
  installed; the tour, the bench and the test suite all run through it.
- :mod:`.markdown`: the one Markdown table writer (the bench's report and
  the scripts in ``bench/``).
- :mod:`.endless`: SQL that runs until stopped, for showing cancellation.
"""
