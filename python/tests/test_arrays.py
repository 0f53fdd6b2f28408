"""numpy arrays in the pools: zero copy, alignment, layouts, dtypes, tags, limits, garbage
collection (no reference cycles), tracemalloc, and the manager's reports."""

import ctypes
import gc
import tracemalloc

import numpy as np
import pytest

import qdsim_mem as qd


def data_address(a):
    return a.__array_interface__["data"][0]


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("order", ["C", "F"])
def test_zeros_are_pool_blocks(mgr, dtype, order):
    a = mgr.zeros((37, 5), dtype=dtype, tag="field", order=order)
    assert a.shape == (37, 5) and a.dtype == np.dtype(dtype)
    assert a.flags.writeable and not a.flags.owndata
    assert a.flags["C_CONTIGUOUS" if order == "C" else "F_CONTIGUOUS"]
    assert data_address(a) % 64 == 0
    assert not a.any()
    info = mgr.allocation_info(a)
    assert info is not None and info["tag"] == "field" and info["size"] == a.nbytes
    assert mgr.tag_stats("field")["bytes_in_use"] == a.nbytes
    assert isinstance(a.base, qd.Block) and a.base.nbytes == a.nbytes


def test_writes_through_the_view_reach_the_pool_block(mgr):
    a = mgr.zeros(1000, tag="psi")
    a[:] = np.arange(1000.0)
    info = mgr.allocation_info(a)
    # Read the block by its address, as C code handed the pointer would.
    block = (ctypes.c_double * 1000).from_address(info["address"])
    assert list(block)[:5] == [0.0, 1.0, 2.0, 3.0, 4.0] and block[999] == 999.0
    block[7] = -1.0
    assert a[7] == -1.0


def test_full_empty_and_asarray(mgr):
    f = mgr.full((4, 4), 2.5 - 1j, dtype=np.complex128, tag="f")
    assert (f == 2.5 - 1j).all()
    e = mgr.empty((3, 3), dtype=np.int64)
    assert e.shape == (3, 3) and data_address(e) % 64 == 0
    src = np.arange(12.0).reshape(3, 4)
    c = mgr.asarray(src, tag="copy", order="F")
    assert (c == src).all() and c.flags.f_contiguous and mgr.allocation_info(c)["tag"] == "copy"
    z = mgr.zeros(0)
    assert z.shape == (0,)
    del f, e, c, z


def test_bad_input_raises_with_the_library_message(mgr):
    with pytest.raises(qd.InvalidArgument, match="dtype float32 has no pool"):
        mgr.zeros(3, dtype=np.float32)
    with pytest.raises(qd.InvalidArgument, match="order"):
        mgr.zeros(3, order="K")
    with pytest.raises(qd.InvalidArgument, match="shape"):
        mgr.zeros("big")
    with pytest.raises(qd.InvalidArgument, match="overflows"):
        mgr.zeros((1 << 40, 1 << 40))
    with pytest.raises(qd.InvalidArgument, match="fill value"):
        mgr.full(3, "x")
    with pytest.raises(qd.NotFound):
        mgr.tag_stats("never-used")


def test_the_limit_raises_limit_exceeded_and_loses_nothing():
    mgr = qd.Manager(limit=1 << 20)
    a = mgr.zeros(1000, tag="small")
    with pytest.raises(qd.LimitExceeded, match="limit"):
        mgr.zeros(1 << 20, tag="too-big")
    assert isinstance(qd.LimitExceeded("x"), qd.QdsimError)
    assert mgr.stats()["live_allocations"] == 1 and a[0] == 0.0
    assert mgr.stats()["failed_allocations"] == 1


def test_collection_returns_every_block_without_the_cycle_collector(mgr):
    # No reference cycle between arrays, blocks and the manager: reference counting alone
    # frees every block, with the cycle collector off.
    gc.disable()
    try:
        arrays = [mgr.zeros((50, 50), dtype=np.complex128, tag="psi") for _ in range(20)]
        views = [a[::2, 1:] for a in arrays] + [a.T for a in arrays]
        assert mgr.stats()["live_allocations"] == 20
        del arrays
        assert mgr.stats()["live_allocations"] == 20  # the views keep their blocks
        del views
        assert mgr.stats()["live_allocations"] == 0
    finally:
        gc.enable()
    gc.collect()
    assert mgr.stats()["bytes_in_use"] == 0


def test_an_array_outlives_its_manager_object():
    mgr = qd.Manager()
    a = mgr.full(100, 3.0, tag="kept")
    del mgr
    gc.collect()
    a += 1.0
    assert (a == 4.0).all()
    del a


def test_tracemalloc_sees_pool_blocks_in_their_domain(mgr):
    tracemalloc.start()
    try:
        a = mgr.zeros((256, 256), dtype=np.complex128, tag="traced")
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.DomainFilter(True, qd.TRACEMALLOC_DOMAIN)]
        )
        traced = sum(t.size for t in snapshot.traces)
        assert traced == a.nbytes
        del a
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.DomainFilter(True, qd.TRACEMALLOC_DOMAIN)]
        )
        assert sum(t.size for t in snapshot.traces) == 0
    finally:
        tracemalloc.stop()


def test_stats_reports_checkpoints_and_scopes(mgr):
    keep = mgr.zeros(100, tag="before")
    cp = mgr.checkpoint()
    with mgr.scope("assembly") as scope:
        assert scope.stats is None
        leaked = mgr.zeros((10, 10), tag="assembly.tmp")
        freed = mgr.zeros(10, tag="assembly.tmp")
        del freed
    s = scope.stats
    assert s["name"] == "assembly" and s["allocations"] == 2 and s["frees"] == 1
    assert s["net_bytes"] == leaked.nbytes
    leaks = mgr.leaks_since(cp)
    assert leaks["count"] == 1 and leaks["bytes"] == leaked.nbytes and leaks["is_leak"]
    assert leaks["groups"] == [("assembly.tmp", 1, leaked.nbytes)]
    stats = mgr.stats()
    assert stats["bytes_in_use"] == keep.nbytes + leaked.nbytes
    assert stats["peak_bytes_in_use"] >= stats["bytes_in_use"]
    tags = mgr.tag_stats()
    assert tags["before"]["live_allocations"] == 1
    assert tags["assembly.tmp"]["allocation_count"] == 2
    assert "assembly.tmp" in mgr.report() and "assembly.tmp" in mgr.leak_report()
    mgr.check()
    with pytest.raises(qd.QdsimError):
        mgr.leaks_since(cp + 1000)
    del keep, leaked
    assert not mgr.leaks_since(cp)["is_leak"]


def test_profiler_records_and_exports(mgr, tmp_path):
    with mgr.profiler(interval=0.005) as prof:
        assert prof.running
        a = mgr.zeros(1 << 16, tag="profiled")
        prof.mark("allocated")
        prof.sample_now()
        del a
    assert not prof.running
    csv = prof.export("csv")
    assert "profiled" in csv and "allocated" in csv
    assert '"allocated"' in prof.export("json")
    path = tmp_path / "profile.svg"
    prof.write(path)
    assert path.read_text().lstrip().startswith("<svg") or "<svg" in path.read_text()
    with pytest.raises(qd.InvalidArgument):
        prof.export("png")
