"""Sweeps: grids of training runs on a Dask cluster (local, SLURM or an existing scheduler).

>>> from ensembles.sweep import load_sweep, run_sweep, sweep_status      # doctest: +SKIP
>>> result = run_sweep("configs/sweeps/demo_sweep.toml", "results/sweeps/demo")  # doctest: +SKIP

See :mod:`ensembles.sweep.spec` for the sweep-file format, :mod:`ensembles.sweep.runner` for the directory layout
and the restart/retry semantics, :mod:`ensembles.sweep.cluster` for the schedulers and
:mod:`ensembles.sweep.combine` for the combined summary that ``ensembles report`` reads.
"""

from ensembles.sweep.cluster import connect, local_cluster_kwargs, make_slurm_cluster, slurm_cluster_kwargs
from ensembles.sweep.combine import combine_sweep
from ensembles.sweep.runner import SweepResult, execute_run, run_sweep
from ensembles.sweep.spec import RunSpec, SweepSpec, config_hash, expand_sweep, load_sweep, parse_sweep
from ensembles.sweep.status import format_status, sweep_status

__all__ = [
    "RunSpec", "SweepResult", "SweepSpec", "combine_sweep", "config_hash", "connect", "execute_run",
    "expand_sweep", "format_status", "load_sweep", "local_cluster_kwargs", "make_slurm_cluster", "parse_sweep",
    "run_sweep", "slurm_cluster_kwargs", "sweep_status",
]
