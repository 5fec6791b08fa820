"""The cold-start allocation: proportional, exact total, largest remainder."""

from __future__ import annotations

import pytest

from rge.data.cold_start import allocate


@pytest.mark.parametrize(
    ("sizes", "total", "expected"),
    [
        # 10 * (5, 3, 2) / 10 exactly.
        ({"a": 50, "b": 30, "c": 20}, 10, {"a": 5, "b": 3, "c": 2}),
        # 7 * (1/3 each) = 2.33 -> floors 2,2,2, one left goes to the first name on a tie.
        ({"a": 3, "b": 3, "c": 3}, 7, {"a": 3, "b": 2, "c": 2}),
        # 5 * (6/10, 3/10, 1/10) = 3, 1.5, 0.5 -> remainders b=.5, c=.5 tie; one extra to b.
        ({"a": 6, "b": 3, "c": 1}, 5, {"a": 3, "b": 2, "c": 0}),
        # More wanted than available: take everything.
        ({"a": 2, "b": 1}, 10, {"a": 2, "b": 1}),
        ({"a": 0, "b": 0}, 3, {"a": 0, "b": 0}),
    ],
)
def test_allocate(sizes, total, expected):
    got = allocate(sizes, total)
    assert got == expected
    assert sum(got.values()) == min(total, sum(sizes.values()))
