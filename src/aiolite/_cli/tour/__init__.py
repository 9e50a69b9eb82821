"""``python -m aiolite tour``: a guided run of every feature (entry point: :func:`.main.run_tour`).

:mod:`.main` runs the sections in order; :mod:`.printing` is how every
section prints; :mod:`.core_sections` (one connection),
:mod:`.extension_sections` (callbacks and SQLite's extensions),
:mod:`.pool_sections` (pool and KV store), :mod:`.aiosqlite_sections`
(``aiolite.aiosqlite`` and the SQLAlchemy dialect) and
:mod:`.framework_sections` (trio and anyio) hold the sections themselves.
The imports only go from :mod:`.main` to the sections and from the sections
to :mod:`.printing`: no cycle.
"""
