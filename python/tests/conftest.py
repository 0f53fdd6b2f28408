"""Shared fixtures of the Python package's tests: a fresh manager per test, checked empty at
the end (every block the test made went back to the pool)."""

import gc

import pytest

import qdsim_mem as qd


@pytest.fixture
def mgr():
    manager = qd.Manager()
    yield manager
    gc.collect()
    stats = manager.stats()
    assert stats["live_allocations"] == 0, manager.leak_report()
    assert stats["bytes_in_use"] == 0
