"""Where a sandbox container is pinned (service.sandbox.cpus): least-used CPU, and which
containers of a pile-up move, as every pool must compute it from the same listing."""

from __future__ import annotations

import random

from service.sandbox.cpus import Placed, created_key, least_used, must_move


def _placed(*cpus: int) -> list[Placed]:
    """Containers c0, c1, ... on these CPUs, each created a second after the previous."""
    return [Placed(f"c{i}", cpu, created_key(f"2026-12-01T19:00:{i:02d}.5Z")) for i, cpu in enumerate(cpus)]


def test_least_used_takes_the_emptiest_cpu() -> None:
    assert least_used(2, _placed(0, 0, 1)) == 1
    assert least_used(4, _placed(0, 1, 2, 3, 0, 1, 3)) == 2
    assert least_used(3, []) in {0, 1, 2}


def test_ties_are_broken_at_random_among_the_least_used_only() -> None:
    rng = random.Random(7)
    picks = {least_used(4, _placed(1), rng) for _ in range(200)}
    assert picks == {0, 2, 3}  # never the CPU that already holds one


def test_a_pile_up_moves_the_youngest_excess_only() -> None:
    two = _placed(0, 0)  # two pools chose CPU 0 at the same moment
    assert [must_move(p.cid, 2, two) for p in two] == [False, True]
    five = _placed(0, 0, 0, 0, 0, 1)  # share 3 on CPU 0: its two youngest go
    assert [must_move(p.cid, 2, five) for p in five] == [False, False, False, True, True, False]


def test_an_even_spread_never_moves() -> None:
    for layout in [(0, 1), (0, 1, 0), (1, 0, 1, 0), (0, 1, 2, 0)]:
        placed = _placed(*layout)
        assert not any(must_move(p.cid, 3 if 2 in layout else 2, placed) for p in placed), layout


def test_creation_times_order_with_fractions_of_any_length() -> None:
    stamps = ["2026-12-01T19:00:01.5Z", "2026-12-01T19:00:01.123456789Z", "2026-12-01T19:00:01.50000001Z",
              "2026-12-01T19:00:00Z", "2026-12-01T19:00:01.6Z"]  # fmt: skip
    assert sorted(stamps, key=created_key) == [stamps[3], stamps[1], stamps[0], stamps[2], stamps[4]]


def test_a_container_not_in_the_listing_or_unpinned_stays() -> None:
    placed = _placed(0, 0, 0)
    assert not must_move("gone", 2, placed)
    assert not must_move("c0", 2, [Placed("c0", 5, ("", ""))])
