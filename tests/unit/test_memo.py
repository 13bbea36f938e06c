"""salesops.memo.Kept: the results kept in the process, by count and by bytes."""
import numpy as np
import pandas as pd
import pytest

from salesops import outlook
from salesops.memo import Kept


def made(kept: Kept, key, value, log: list):
    def make():
        log.append(key)
        return value
    return kept.get(key, make)


def test_the_least_recently_used_goes_first():
    kept, log = Kept(2), []
    made(kept, "a", 1, log)
    made(kept, "b", 2, log)
    assert made(kept, "a", 1, log) == 1  # kept: "a" is now the most recent
    made(kept, "c", 3, log)              # "b" goes
    made(kept, "a", 1, log)
    made(kept, "b", 2, log)
    assert log == ["a", "b", "c", "b"] and len(kept) == 2


def test_a_none_key_is_made_every_time():
    kept, log = Kept(4), []
    made(kept, None, 1, log)
    made(kept, None, 1, log)
    assert log == [None, None] and len(kept) == 0


def test_the_byte_budget_evicts_the_oldest_and_keeps_the_newest_whatever_its_size():
    kept, log = Kept(100, max_bytes=10, weigh=len), []
    made(kept, "a", "xxxx", log)       # 4 bytes
    made(kept, "b", "yyyy", log)       # 8
    assert kept.nbytes == 8 and len(kept) == 2
    made(kept, "c", "zzzz", log)       # 12 > 10: "a" goes
    assert kept.nbytes == 8 and len(kept) == 2
    made(kept, "b", "yyyy", log)       # still kept
    made(kept, "a", "xxxx", log)       # made again
    assert log == ["a", "b", "c", "a"]
    made(kept, "d", "w" * 50, log)     # larger than the whole budget: kept alone
    assert len(kept) == 1 and kept.nbytes == 50
    assert made(kept, "d", "w" * 50, log) == "w" * 50 and log[-1] == "d" and log.count("d") == 1
    kept.clear()
    assert kept.nbytes == 0 and len(kept) == 0


def test_budget_and_weight_go_together():
    with pytest.raises(ValueError):
        Kept(4, max_bytes=10)
    with pytest.raises(ValueError):
        Kept(4, weigh=len)


def test_a_landing_zone_weighs_its_draws_and_its_open_deals():
    deals = pd.DataFrame({"id": [f"D{i}" for i in range(100)], "amount": np.arange(100, dtype=float)})
    res = {"samples": np.zeros(4000), "open_deals": deals}
    assert outlook._weight(res) == 4000 * 8 + int(deals.memory_usage(deep=True).sum())
    assert outlook._weight(res) > 4000 * 8 + 100 * 8 * 2  # the ids' text counts, not only its pointers
