"""The draw rule that keeps undefined metrics out of the tiers: every example ``make_examples``
draws has a target on which STOI is defined.

STOI (pystoi) correlates short-time envelopes over windows of 30 frames (about 0.4 s at its
10 kHz rate), after dropping every frame more than 40 dB below the *target's* loudest one.
With fewer than 30 frames left it is undefined (``latentflow.metrics.perceptual`` returns
NaN with that reason). Which frames are dropped depends on the target alone, never on the
estimate, so whether STOI can be defined on an example is known when it is drawn. Sparse
environmental sounds (clock ticks, a few bird calls or barks, separated by silence) often
fall short: 2 to 5 of the first 24 held-out Env examples of each of the data seeds 0-4
(the first 12 of seed 0 all pass). A NaN there would make a STOI case untestable, so the draw
skips such examples instead, like ``spans="partial"`` skips examples without a sub-span.

PESQ is not part of the rule: it is measured only on the speech tiers, where it was defined
on every target of seeds 0-4 (24 examples each), and its failures can depend on the
estimate as well. A NaN that still occurs fails its case with the measure's reason; it never
shrinks n (``latentflow.stats.data``, ``latentflow.stats.sequential``).
"""

from __future__ import annotations

import numpy as np

from latentflow.metrics.perceptual import stoi_result

RULE = "its target has at least 30 STOI frames (about 0.4 s) of non-silent audio, so STOI is defined"


def stoi_defined(target, sample_rate: int) -> bool:
    """Whether STOI is defined for any estimate of ``target`` (1-D waveform)."""
    # Scored against itself: the estimate plays no part in which frames count as silent.
    clip = np.asarray(target, dtype=np.float64)[None]
    return not bool(np.isnan(stoi_result(clip, clip, sample_rate).values[0]))
