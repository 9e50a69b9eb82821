"""aiolite's exports name ``aiolite`` as their home, whichever private module defines them."""

from __future__ import annotations

import inspect
import pickle
import traceback

import pytest

import aiolite

OWN_EXPORTS = [
    name
    for name in aiolite.__all__
    if (inspect.isclass(getattr(aiolite, name)) or inspect.isfunction(getattr(aiolite, name)))
    and not getattr(aiolite, name).__module__.startswith("apsw")
]


def test_every_own_class_and_function_says_aiolite() -> None:
    assert len(OWN_EXPORTS) > 30  # the filter above did not throw everything away
    private = [name for name in OWN_EXPORTS if getattr(aiolite, name).__module__ != "aiolite"]
    assert private == []


@pytest.mark.parametrize("name", ["Connection", "Pool", "KV", "Cursor", "Transaction"])
def test_methods_move_with_their_class(name: str) -> None:
    cls = getattr(aiolite, name)
    own = [f for f in vars(cls).values() if inspect.isfunction(f)]
    assert own
    assert {f.__module__ for f in own} == {"aiolite"}


def test_errors_print_public_paths() -> None:
    try:
        raise aiolite.WrongEventLoopError("used from another loop")
    except aiolite.WrongEventLoopError:
        text = traceback.format_exc()
    assert "aiolite.WrongEventLoopError: used from another loop" in text
    assert "aiolite._" not in text.splitlines()[-1]


def test_public_errors_pickle_by_their_public_name() -> None:
    error = aiolite.TransactionControlError("no BEGIN here")
    assert b"aiolite._" not in pickle.dumps(error)
    assert str(pickle.loads(pickle.dumps(error))) == "no BEGIN here"


OWN_ERRORS = [
    name
    for name in OWN_EXPORTS
    if isinstance(getattr(aiolite, name), type) and issubclass(getattr(aiolite, name), Exception)
]


def test_aiolite_own_errors_share_one_base() -> None:
    assert len(OWN_ERRORS) >= 7
    outside = [n for n in OWN_ERRORS if not issubclass(getattr(aiolite, n), aiolite.AioliteError)]
    assert outside == []


def test_sqlite_errors_stay_apsw_classes() -> None:
    assert aiolite.BusyError is __import__("apsw").BusyError
    assert not issubclass(aiolite.BusyError, aiolite.AioliteError)
    assert not issubclass(aiolite.ConnectionClosedError, aiolite.AioliteError)


def test_base_keeps_the_standard_classes() -> None:
    assert issubclass(aiolite.PoolTimeout, TimeoutError)
    assert issubclass(aiolite.DeadlineExceeded, TimeoutError)
    assert issubclass(aiolite.WrongEventLoopError, RuntimeError)
    assert issubclass(aiolite.TransactionControlError, aiolite.SQLError)
    assert issubclass(aiolite.TransactionRolledBackError, aiolite.Error)
