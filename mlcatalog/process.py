"""Process-wide policy, set once when an mlcatalog process starts (never from a request or a library call)."""

from __future__ import annotations

import gc

#: CPython's default first-generation threshold is 700 allocations. A catalog build (or an Atlas search answering
#: one) allocates tens of thousands of long-lived objects, and at 700 the collector keeps re-scanning them: about a
#: quarter of an unchanged re-sync of 1,000 models, measured (benchmarks/bench_sync.py). 10,000 keeps almost all of
#: that gain (switching the collector off would keep the rest, at the price of unbounded cycles), and costs a few
#: MB of garbage at most between collections.
GC_GEN0_THRESHOLD = 10_000


def configure_process() -> None:
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)
