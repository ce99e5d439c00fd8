"""Re-running Tosato et al. (2023) as the authors ran it: conditions, verdict rules and the claims table.

``plan`` turns a dataset and seeds into the sweeps of the protocol (docs/reproduction.md, section 1);
``verdicts`` holds the pre-registered claim rules (section 4) as pure functions of summary tables.
"""

from ensembles.reproduction.plan import CONDITIONS, HELD_OUT_CLASS, LR_GRID, SUBSAMPLE, reproduction_sweeps

__all__ = ["CONDITIONS", "HELD_OUT_CLASS", "LR_GRID", "SUBSAMPLE", "reproduction_sweeps"]
