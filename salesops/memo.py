"""Results kept in the process: a small thread-safe store of the last results asked for, by a
key the caller builds from what the result depends on (e.g. ``Workspace.facts_token``, the
filters and the arguments). The app's sessions run in threads and share it; nothing in it
outlives the process."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

T = TypeVar("T")


class Kept:
    """The last ``size`` results by key (least recently used goes first)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable | None, make: Callable[[], T]) -> T:
        """The result kept for ``key``, else ``make()`` (kept for next time). A ``None`` key
        means "not keepable": ``make()`` every time. Two threads asking for a new key at once
        may both make it; the result is the same."""
        if key is None:
            return make()
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
