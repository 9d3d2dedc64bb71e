"""The bounded cache behind the in-memory memos (active lists, trust snapshots)."""

from __future__ import annotations

import threading

import pytest

from passport.memo import BoundedCache


def test_the_least_recently_used_entry_goes_first():
    cache = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2


def test_a_stored_none_differs_from_a_miss():
    cache = BoundedCache(1)
    missing = object()
    assert cache.get("k", missing) is missing
    cache.put("k", None)
    assert cache.get("k", missing) is None
    cache.clear()
    assert cache.get("k", missing) is missing


def test_the_bound_holds_under_threads():
    cache = BoundedCache(8)

    def fill(offset):
        for n in range(500):
            cache.put(offset + n, n)
            cache.get(offset + n // 2)

    threads = [threading.Thread(target=fill, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 8


def test_a_cache_holds_at_least_one_entry():
    with pytest.raises(ValueError, match="maxsize"):
        BoundedCache(0)
