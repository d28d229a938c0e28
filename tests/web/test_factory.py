"""How a serving process tunes its interpreter."""

from __future__ import annotations

import gc
import sys

from unico.web.factory import FULL_COLLECTION_EVERY, SWITCH_INTERVAL_S, serving_process


def test_a_serving_process_hands_the_interpreter_over_often_and_collects_in_full_rarely():
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    try:
        serving_process()
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
        young, middle, full = gc.get_threshold()
        # the young generations as Python sets them; full collections far rarer
        assert (young, middle) == thresholds[:2]
        assert full == FULL_COLLECTION_EVERY > 10 * thresholds[2]
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
