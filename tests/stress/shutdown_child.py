"""A program that ends with its connection, pool, KV store and cursors still open.

Run as ``python -m tests.stress.shutdown_child FRAMEWORK WHERE HOW PATH``
from the repository root.

FRAMEWORK is ``asyncio`` or ``trio``. WHERE says what is going on when the
program ends: ``idle`` (everything open, nothing running), ``running``
(requests in flight in tasks, see :class:`Scene`), ``loop-thread`` (the
event loop runs in a daemon thread, as a server's might, with requests in
flight, and the *main thread* ends the program meanwhile). HOW is how it
ends: ``return`` (falls off the end), ``exit`` (``sys.exit(3)``) or
``raise`` (an uncaught ``RuntimeError``). Everything opened is kept
referenced to the end, as in a program that simply forgot to close.

Each acknowledged write is printed (flushed) as one JSON line the moment it
returned; ``{"ending": time}`` comes just before the program ends.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

from tests.stress.shutdown_scene import Scene

EXIT_CODE = 3


def say(**message: Any) -> None:
    print(json.dumps(message), flush=True)


def end(how: str) -> None:
    say(ending=time.time())
    if how == "exit":
        sys.exit(EXIT_CODE)
    if how == "raise":
        raise RuntimeError("boom: an uncaught error with everything open")


def main(framework: str, where: str, how: str, path: str) -> None:
    scene = Scene(path, framework, on_ack=lambda kind, value: say(**{kind: value}))
    kept.append(scene)
    in_flight = threading.Event()

    async def program() -> None:
        await scene.open()
        if where != "idle":
            await scene.start_requests()
        if where == "loop-thread":
            in_flight.set()
            await wait_forever()
        end(how)

    async def wait_forever() -> None:
        if framework == "trio":
            import trio

            await trio.sleep_forever()
        else:
            await asyncio.Event().wait()

    def run() -> None:
        if framework == "trio":
            import trio

            trio.run(program)
        else:
            asyncio.run(program())

    if where == "loop-thread":
        threading.Thread(target=run, name="server-loop", daemon=True).start()
        if not in_flight.wait(30):
            sys.exit("the requests never started")
        end(how)
    else:
        run()


kept: list[Any] = []

if __name__ == "__main__":
    main(*sys.argv[1:5])
