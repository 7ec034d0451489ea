"""The queue of waiting runs (``classroom.run_queue``): its fair order, its caps, who may change
it, and the start times it estimates. Pure Python: the fast tier."""

import pytest

from classroom.run_queue import START_GAP_S, NotWaiting, QueueFull, RunQueue, Waiting
from classroom.run_record import NotYourRun


def run(run_id, address="10.0.0.1", owner="", estimate_s=60.0, teacher=False):
    """A waiting run; its owner is a session of its own unless named (None: no one's)."""
    return Waiting(run_id=run_id, who=f"student {run_id}", estimate_s=estimate_s, address=address,
                   owner=f"session-{run_id}" if owner == "" else owner, teacher=teacher)


def queue_of(*runs, max_length=100, max_total_s=10_000):
    queue = RunQueue(max_length, max_total_s)
    for waiting in runs:
        queue.add(waiting)
    return queue


def test_two_addresses_take_turns_however_many_one_queues():
    queue = queue_of(run(1, "A"), run(2, "A"), run(3, "A"), run(4, "B"), run(5, "B"))
    assert queue.order() == [1, 4, 2, 5, 3]
    assert queue.add(run(6, "C")) == (3, None)  # a newcomer's first run goes behind every first run
    assert queue.order() == [1, 4, 6, 2, 5, 3]


def test_students_behind_one_address_are_first_come_first_served():
    queue = queue_of(run(1, "school"), run(2, "school"), run(3, "school"), run(4, "home"))
    assert queue.order() == [1, 4, 2, 3]
    queue.add(run(5, "cafe"))
    assert queue.order() == [1, 4, 5, 2, 3]


def test_a_new_start_replaces_the_students_waiting_run_in_its_place():
    queue = queue_of(run(1, "A"), run(2, "B"), run(3, "A"))
    again = run(9, "A", owner="session-1", estimate_s=30)
    place, replaced = queue.add(again)
    assert (place, replaced.run_id) == (1, 1)
    assert queue.order() == [9, 2, 3] and queue.mine("session-1") is again


def test_runs_without_an_owner_are_students_of_their_own():
    queue = queue_of(run(1, None, owner=None), run(2, None, owner=None))
    assert queue.order() == [1, 2] and queue.mine(None) is None


def test_the_teachers_move_stands_and_later_runs_are_placed_around_it():
    queue = queue_of(run(1, "A"), run(2, "A"), run(3, "B"))
    assert queue.order() == [1, 3, 2]
    assert queue.move(2, 1, teacher=True) == 1
    # run 2 is now A's first (round 0) and run 1 its second (round 1)
    queue.add(run(4, "C"))
    assert queue.order() == [2, 1, 3, 4]
    queue.add(run(5, "A"))
    assert queue.order() == [2, 1, 3, 4, 5]


def test_move_clamps_the_place():
    queue = queue_of(run(1, "A"), run(2, "B"), run(3, "C"))
    assert queue.move(1, 99, teacher=True) == 3 and queue.order() == [2, 3, 1]
    assert queue.move(1, 0, teacher=True) == 1 and queue.order() == [1, 2, 3]


def test_the_length_cap_refuses_a_student_but_not_the_teacher():
    queue = queue_of(run(1, "A"), run(2, "B"), max_length=2)
    with pytest.raises(QueueFull) as refused:
        queue.add(run(3, "C"))
    assert (refused.value.reason, refused.value.limit) == ("length", 2)
    place, replaced = queue.add(run(5, "A", owner="session-1"))  # a full queue takes a replacement
    assert (place, replaced.run_id) == (1, 1)
    assert queue.add(run(4, "T", teacher=True)).place == 3
    with pytest.raises(QueueFull):  # the teacher's run counts towards the students' cap
        queue.add(run(6, "B", owner="session-2"))
    assert queue.order() == [5, 2, 4]


def test_the_time_cap_counts_a_replacement_without_the_run_it_replaces():
    queue = queue_of(run(1, "A", estimate_s=60), max_total_s=100)
    with pytest.raises(QueueFull) as refused:
        queue.add(run(2, "B", estimate_s=60))
    assert (refused.value.reason, refused.value.limit) == ("time", 100)
    assert queue.add(run(3, "A", owner="session-1", estimate_s=100)).replaced.run_id == 1
    with pytest.raises(QueueFull):
        queue.add(run(4, "A", owner="session-1", estimate_s=101))
    assert queue.order() == [3]  # a refused replacement leaves the waiting run as it was
    assert queue.add(run(5, "T", estimate_s=600, teacher=True)).place == 2


def test_a_student_withdraws_their_own_run_only():
    queue = queue_of(run(1, "A"), run(2, "B"), run(3, "C", owner=None))
    with pytest.raises(NotYourRun) as refused:
        queue.withdraw(1, owner="session-2")
    assert refused.value.who == "student 1" and queue.order() == [1, 2, 3]
    with pytest.raises(NotYourRun):
        queue.withdraw(3, owner=None)  # no one's run: no session may take it out
    assert queue.withdraw(1, owner="session-1").run_id == 1
    assert queue.withdraw(3, owner="session-2", teacher=True).run_id == 3
    assert queue.order() == [2]
    with pytest.raises(NotWaiting):
        queue.withdraw(1, owner="session-1")
    with pytest.raises(KeyError):  # NotWaiting is a KeyError
        queue.remove(42, teacher=True)


def test_only_the_teacher_moves_removes_pauses_and_resumes():
    queue = queue_of(run(1, "A"), run(2, "B"))
    for change in (lambda: queue.move(2, 1, teacher=False), lambda: queue.remove(1, teacher=False)):
        with pytest.raises(NotYourRun) as refused:
            change()
        assert refused.value.who in ("student 1", "student 2")
    for change in (queue.pause, queue.resume):
        with pytest.raises(NotYourRun):
            change(teacher=False)
    assert queue.order() == [1, 2] and not queue.paused
    assert queue.remove(1, teacher=True).run_id == 1 and queue.order() == [2]


def test_pause_holds_the_runs_and_resume_gives_them_in_order():
    queue = queue_of(run(1, "A"), run(2, "B"))
    queue.pause(teacher=True)
    assert queue.paused and queue.pop_next() is None and len(queue) == 2
    queue.add(run(3, "C"))  # a paused queue still takes runs
    queue.resume(teacher=True)
    assert [queue.pop_next().run_id for _ in range(3)] == [1, 2, 3]
    assert queue.pop_next() is None


def test_places_estimate_each_start_from_the_runs_before_it():
    queue = queue_of(run(1, "A", estimate_s=60), run(2, "B", estimate_s=20), run(3, "C", estimate_s=45))
    rows = queue.places(busy_s=30)
    assert [(row.waiting.run_id, row.place) for row in rows] == [(1, 1), (2, 2), (3, 3)]
    assert [row.start_in_s for row in rows] == pytest.approx(
        [30 + START_GAP_S, 30 + 60 + 2 * START_GAP_S, 30 + 80 + 3 * START_GAP_S])
    assert queue_of().places() == [] and queue_of(run(1)).places()[0].start_in_s == START_GAP_S


def test_a_flood_from_one_address_never_grows_past_the_cap():
    queue = RunQueue(max_length=10, max_total_s=10_000)
    refused = 0
    for run_id in range(500):
        try:
            queue.add(run(run_id, "flood", estimate_s=1))
        except QueueFull as full:
            refused += 1
            assert full.reason == "length"
        assert len(queue) <= 10
    assert (len(queue), refused) == (10, 490)
    one_session = RunQueue(max_length=10, max_total_s=10_000)
    for run_id in range(500):
        one_session.add(run(run_id, "flood", owner="one tab", estimate_s=1))
    assert one_session.order() == [499]


def test_restore_puts_back_the_stored_order_without_caps_or_placement():
    stored = [run(3, "A"), run(1, "A"), run(2, "B")]
    queue = RunQueue(max_length=1, max_total_s=1)
    queue.restore(stored)
    assert queue.order() == [3, 1, 2]
    with pytest.raises(ValueError, match="run_id=3"):
        queue.restore([run(3, "C")])
    with pytest.raises(ValueError, match="run_id=7"):
        queue.restore([run(8, "C"), run(7, "C", owner="session-1")])
    assert queue.order() == [3, 1, 2]  # all or nothing


def test_bad_arguments_are_refused_with_their_value():
    with pytest.raises(ValueError, match="max_length=-1"):
        RunQueue(-1, 60)
    with pytest.raises(ValueError, match="max_total_s=nan"):
        RunQueue(3, float("nan"))
    queue = queue_of(run(1, "A"))
    with pytest.raises(ValueError, match="run_id=1"):
        queue.add(run(1, "B", owner="another session"))
