"""Property tests of collector.ranges.Ranges against a plain set of integers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.ranges import Ranges

spans = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 12)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=25,
)
RANGE_SETTINGS = settings(max_examples=300, deadline=None, database=None, derandomize=True)


def as_set(pairs) -> set[int]:
    return {x for lo, hi in pairs for x in range(lo, hi + 1)}


@RANGE_SETTINGS
@given(pairs=spans, probes=st.lists(st.integers(-2, 80), max_size=20))
def test_ranges_hold_exactly_the_union_of_what_was_added(pairs, probes):
    ranges = Ranges(pairs)
    covered = as_set(pairs)
    assert as_set(ranges) == covered
    for x in [*probes, *covered]:
        assert (x in ranges) == (x in covered)
        span = ranges.covering(x)
        assert (span is not None) == (x in covered)
        if span:
            assert (
                span[0] <= x <= span[1]
                and span[0] - 1 not in covered
                and span[1] + 1 not in covered
            )
    # Sorted, disjoint and never touching: a channel read without holes is one range.
    listed = list(ranges)
    assert all(a[1] + 1 < b[0] for a, b in zip(listed, listed[1:], strict=False))
    assert ranges.top == (max(covered) if covered else 0)


@RANGE_SETTINGS
@given(pairs=spans, lo=st.integers(0, 80), width=st.integers(0, 40))
def test_holes_are_the_complement_within_a_window(pairs, lo, width):
    ranges = Ranges(pairs)
    hi = lo + width
    holes = ranges.holes(lo, hi)
    assert as_set(holes) == set(range(lo, hi + 1)) - as_set(pairs)
    assert all(a[1] + 1 < b[0] for a, b in zip(holes, holes[1:], strict=False))


@RANGE_SETTINGS
@given(a=spans, b=spans)
def test_order_of_adding_and_the_stored_form_do_not_matter(a, b):
    one, other = Ranges(a + b), Ranges(list(reversed(b)) + a)
    assert one == other
    assert Ranges.from_json(one.to_json()) == one
    merged = Ranges(a)
    merged.update(Ranges(b))
    assert merged == one


def test_a_row_from_before_ranges_covers_its_last_message():
    assert list(Ranges.from_json("[]", 500)) == [(500, 500)]
    assert list(Ranges.from_json("[[1, 9]]", 500)) == [(1, 9)]
