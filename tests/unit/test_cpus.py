"""Where a sandbox container is pinned (service.sandbox.cpus): least-used CPU, and which
containers of a pile-up move, as every pool must compute it from the same listing."""

from __future__ import annotations

import random

from service.sandbox.cpus import Placed, least_used, must_move


def _placed(*cpus: int) -> list[Placed]:
    """Containers c0, c1, ... on these CPUs, each created a second after the previous."""
    return [Placed(f"c{i}", cpu, 1_780_000_000 + i) for i, cpu in enumerate(cpus)]


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


def test_containers_created_in_the_same_second_are_ordered_by_id() -> None:
    placed = [Placed("b", 0, 100), Placed("a", 0, 100), Placed("c", 1, 100)]  # "b": the youngest
    assert [must_move(p.cid, 2, placed) for p in placed] == [False, False, False]  # [2, 1]: even
    piled = [Placed("b", 0, 100), Placed("a", 0, 100)]
    assert [must_move(p.cid, 2, piled) for p in piled] == [True, False]


def test_a_container_not_in_the_listing_or_unpinned_stays() -> None:
    placed = _placed(0, 0, 0)
    assert not must_move("gone", 2, placed)
    assert not must_move("c0", 2, [Placed("c0", 5, 0)])
