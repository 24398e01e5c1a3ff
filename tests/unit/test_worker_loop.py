"""The worker loop's pure parts: which offsets a batch commits, and the retry back-off."""

from __future__ import annotations

from streams.worker.loop import backoff, next_offsets


def test_a_batch_commits_one_past_the_highest_offset_of_each_partition():
    positions = [("ads.raw", 0, 5), ("ads.raw", 1, 9), ("ads.raw", 0, 7), ("ads.raw", 0, 6),
                 ("feedback", 0, 2)]
    assert next_offsets(positions) == {("ads.raw", 0): 8, ("ads.raw", 1): 10, ("feedback", 0): 3}


def test_an_empty_batch_commits_nothing():
    assert next_offsets([]) == {}


def test_backoff_doubles_from_a_tenth_of_a_second_up_to_five():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.8]
    assert backoff(7) == 5.0 and backoff(100) == 5.0
