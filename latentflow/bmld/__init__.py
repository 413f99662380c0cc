"""The binaural masking-level-difference (BMLD) benchmark: a claim family for any audio encoder.

* :mod:`latentflow.bmld.stimuli`: seeded N0S0 / N0Spi stimulus sets and physical ablations;
* :mod:`latentflow.bmld.references`: registered reference models (EC, GCC-PHAT, monaural
  front ends, the trained binaural models) that turn trials into features;
* :mod:`latentflow.bmld.probe`: cross-validated linear detection, psychometric fits, BMLD
  with a bootstrap interval;
* :mod:`latentflow.bmld.binaural`: the two binaural models trained here, and their retraining;
* :mod:`latentflow.bmld.table`: the benchmark table (``python -m latentflow.bmld.table``).

Protocol and measured numbers: docs/bmld.md.
"""
