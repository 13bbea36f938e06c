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
    """The last ``size`` results by key (least recently used goes first); with ``max_bytes``
    and ``weigh`` (a result's size in bytes), also no more than ``max_bytes`` of results (the
    newest is kept whatever its size)."""

    def __init__(self, size: int, *, max_bytes: int | None = None, weigh: Callable[[object], int] | None = None):
        if (max_bytes is None) != (weigh is None):
            raise ValueError("max_bytes and weigh go together")
        self.size = size
        self.max_bytes = max_bytes
        self._weigh = weigh
        self._items: OrderedDict = OrderedDict()
        self._weights: dict = {}
        self._bytes = 0
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
        weight = int(self._weigh(value)) if self._weigh else 0
        with self._lock:
            self._bytes += weight - self._weights.get(key, 0)
            self._items[key] = value
            self._items.move_to_end(key)
            self._weights[key] = weight
            while len(self._items) > self.size or (self.max_bytes is not None and self._bytes > self.max_bytes
                                                   and len(self._items) > 1):
                old, _ = self._items.popitem(last=False)
                self._bytes -= self._weights.pop(old)
        return value

    @property
    def nbytes(self) -> int:
        """The kept results' weight in bytes (0 without ``weigh``)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weights.clear()
            self._bytes = 0
