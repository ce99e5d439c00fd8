"""Dask clusters for sweeps: a local cluster, SLURM through dask-jobqueue, or an existing scheduler.

``--scheduler`` takes

- ``local`` (default): a :class:`dask.distributed.LocalCluster` sized to the machine: one single-threaded worker
  process per core (at most one per run), each run with ``torch.set_num_threads(cores // workers)``;
- ``slurm``: a :class:`dask_jobqueue.SLURMCluster` built from ``[scheduler.slurm]`` of the sweep file (queue,
  account, walltime, cores, memory, gpus, ...), scaled adaptively up to ``max_jobs`` jobs;
- the address of a running Dask scheduler (``tcp://host:8786``, ``tls://...``, ``ucx://...``, ``inproc://...``).

Options of ``[scheduler.local]``: ``n_workers``, ``threads_per_worker`` (default 1), ``memory_limit`` (default
``"auto"``), ``processes`` (default true), ``torch_threads``.
Options of ``[scheduler.slurm]``: ``queue``, ``account``, ``walltime``, ``cores``, ``processes``, ``memory``,
``gpus`` (adds ``--gres=gpu:N``), ``job_extra_directives``, ``job_script_prologue`` (e.g. ``module load``
lines), ``local_directory``, ``log_directory``, ``job_name``, ``interface``, ``python``, ``max_jobs`` (adaptive
maximum, default 10), ``min_jobs`` (default 0), ``torch_threads``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ensembles._validation import closest
from ensembles.errors import ParameterError

LOCAL_KEYS = ("n_workers", "threads_per_worker", "memory_limit", "processes", "torch_threads")
SLURM_KEYS = ("queue", "account", "walltime", "cores", "processes", "memory", "gpus", "job_extra_directives",
              "job_script_prologue", "local_directory", "log_directory", "job_name", "interface", "python",
              "max_jobs", "min_jobs", "torch_threads")
ADDRESS_RE = re.compile(r"^(tcp|tls|ucx|inproc|ws|wss)://\S+$")

#: Dask settings under which :func:`connect` starts a local cluster's workers.
#:
#: - no statistical profiler: it samples every worker thread's stack every 10 ms, a measurable cost for training
#:   loops and useless for a sweep;
#: - no ``MALLOC_TRIM_THRESHOLD_`` in the workers' environment (Dask's nanny sets it to 65536 by default, before
#:   spawning each worker, to hand freed memory back to the OS sooner).  Setting that variable at all switches off
#:   glibc's dynamic mmap threshold (mallopt(3), ``M_MMAP_THRESHOLD``), so every allocation above 128 KiB -- every
#:   batch-sized tensor of a training step -- is a fresh ``mmap`` whose pages fault in and are zeroed, then
#:   ``munmap``-ed.  Measured on a quick mnist-5k run (2-core machine): 2.66 M minor page faults and 4.5 s of system
#:   time instead of 0.11 M and 0.5 s, and each run cost about twice the CPU time it costs in a plain process.
#:   ``None`` removes the variable from Dask's pre-spawn environment, so the workers get glibc's
#:   defaults like any Python process; a value set explicitly in the calling environment is still honoured.
#:   OMP/MKL/OpenBLAS ``*_NUM_THREADS=1`` stay: single-threaded workers are the point of the local cluster.
#: - ``OMP_WAIT_POLICY=PASSIVE``: a run that gets several torch threads (fewer runs than cores) must not spin-wait at
#:   OpenMP barriers when other processes share the cores.  Measured with 2 FF runs on 2 loaded cores
#:   (``benchmarks/bench_threads.py``): 2 processes x 2 threads took 2.8x the wall time of 2 processes x 1
#:   thread (epochs 4.8x slower), with PASSIVE 0.84x; the 2-thread runs one after the other took 2.4x.  Parallel
#:   single-thread runs (the default here whenever there are at least as many runs as cores) are the fast
#:   arrangement; PASSIVE only matters for multi-thread runs.
LOCAL_WORKER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.nanny.pre-spawn-environ.OMP_WAIT_POLICY": "PASSIVE",
    # workers ignore Ctrl-C: the command's process handles it and closes the cluster (ensembles.sweep._worker_setup)
    "distributed.worker.preload": ["ensembles.sweep._worker_setup"],
}

#: The same setting for SLURM jobs, whose nanny reads its Dask config from the job's environment: the dict is merged
#: into ``distributed.nanny.pre-spawn-environ`` (the OMP/MKL/OpenBLAS entries stay) and ``None`` drops the key.
SLURM_MALLOC_PROLOGUE = "export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON=\"{'MALLOC_TRIM_THRESHOLD_': None}\""


def available_cores() -> int:
    """Cores this process may run on (CPU affinity, falling back to ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def _check_keys(section: str, options: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in options:
        if key not in allowed:
            hint = closest(key, allowed, n=1)
            raise ParameterError(
                f"Unknown option {key!r} in [scheduler.{section}]; expected one of {', '.join(allowed)}"
                + (f". Did you mean {hint[0]!r}?" if hint else "")
            )


def _positive_int(section: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"[scheduler.{section}] {key} must be a positive integer. Got {value!r} instead.")
    return value


def local_cluster_kwargs(options: Mapping[str, Any] | None = None, *, n_runs: int | None = None,
                         cores: int | None = None) -> tuple[dict, int]:
    """Arguments of the LocalCluster for a sweep, and the torch threads each run should use.

    Default: ``min(cores, n_runs)`` single-threaded worker processes; torch threads per run
    ``max(1, cores // n_workers)``.
    """
    options = dict(options or {})
    _check_keys("local", options, LOCAL_KEYS)
    cores = cores or available_cores()
    n_workers = options.get("n_workers", max(1, min(cores, n_runs or cores)))
    n_workers = _positive_int("local", "n_workers", n_workers)
    threads = _positive_int("local", "threads_per_worker", options.get("threads_per_worker", 1))
    torch_threads = _positive_int("local", "torch_threads",
                                  options.get("torch_threads", max(1, cores // (n_workers * threads))))
    processes = options.get("processes", True)
    if not isinstance(processes, bool):
        raise ParameterError(f"[scheduler.local] processes must be true or false. Got {processes!r} instead.")
    kwargs = dict(n_workers=n_workers, threads_per_worker=threads, processes=processes,
                  memory_limit=options.get("memory_limit", "auto"), dashboard_address=":0")
    return kwargs, torch_threads


def slurm_cluster_kwargs(options: Mapping[str, Any] | None = None) -> tuple[dict, dict]:
    """Translate ``[scheduler.slurm]`` into ``SLURMCluster`` arguments and adaptive-scaling arguments.

    Returns ``(cluster_kwargs, scale_kwargs)`` where ``scale_kwargs`` has ``minimum_jobs``/``maximum_jobs`` for
    ``cluster.adapt`` and ``torch_threads``.  Defaults: 1 worker process per job, cores 1, memory "4GB",
    walltime "01:00:00"; ``gpus = N`` adds the directive ``--gres=gpu:N``; the job script prologue ends with
    :data:`SLURM_MALLOC_PROLOGUE` (no ``MALLOC_TRIM_THRESHOLD_`` in the workers, see :data:`LOCAL_WORKER_CONFIG`).
    """
    options = dict(options or {})
    _check_keys("slurm", options, SLURM_KEYS)
    cores = _positive_int("slurm", "cores", options.get("cores", 1))
    processes = _positive_int("slurm", "processes", options.get("processes", 1))
    walltime = options.get("walltime", "01:00:00")
    if not isinstance(walltime, str) or not re.fullmatch(r"(\d+-)?\d{1,3}(:\d{2}){0,2}", walltime):
        raise ParameterError(f"[scheduler.slurm] walltime must be a SLURM time such as '04:00:00' or '1-00:00:00'. "
                         f"Got {walltime!r} instead.")
    memory = options.get("memory", "4GB")
    if not isinstance(memory, str) or not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory):
        raise ParameterError(f"[scheduler.slurm] memory must be a size such as '16GB'. Got {memory!r} instead.")
    directives = list(options.get("job_extra_directives", []))
    if not all(isinstance(d, str) for d in directives):
        raise ParameterError("[scheduler.slurm] job_extra_directives must be a list of strings such as '--qos=high'.")
    gpus = options.get("gpus", 0)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise ParameterError(f"[scheduler.slurm] gpus must be a non-negative integer. Got {gpus!r} instead.")
    if gpus:
        directives.append(f"--gres=gpu:{gpus}")
    prologue = list(options.get("job_script_prologue", []))
    if not all(isinstance(d, str) for d in prologue):
        raise ParameterError("[scheduler.slurm] job_script_prologue must be a list of shell lines.")
    prologue.append(SLURM_MALLOC_PROLOGUE)
    kwargs: dict[str, Any] = dict(cores=cores, processes=processes, memory=memory, walltime=walltime,
                                  job_extra_directives=directives, job_script_prologue=prologue,
                                  job_name=options.get("job_name", "ensembles-sweep"))
    for key in ("queue", "account", "local_directory", "log_directory", "interface", "python"):
        if key in options:
            if not isinstance(options[key], str):
                raise ParameterError(f"[scheduler.slurm] {key} must be a string. Got {options[key]!r} instead.")
            kwargs[key] = options[key]
    max_jobs = _positive_int("slurm", "max_jobs", options.get("max_jobs", 10))
    min_jobs = options.get("min_jobs", 0)
    if isinstance(min_jobs, bool) or not isinstance(min_jobs, int) or not 0 <= min_jobs <= max_jobs:
        raise ParameterError(f"[scheduler.slurm] min_jobs must be an integer between 0 and max_jobs ({max_jobs}). "
                         f"Got {min_jobs!r} instead.")
    threads_per_process = max(1, cores // processes)
    torch_threads = _positive_int("slurm", "torch_threads", options.get("torch_threads", threads_per_process))
    return kwargs, dict(minimum_jobs=min_jobs, maximum_jobs=max_jobs, torch_threads=torch_threads)


@dataclass
class ClusterHandle:
    """A connected client plus what to close at the end (``cluster`` is None for an external scheduler)."""

    client: Any
    cluster: Any
    kind: str
    torch_threads: int
    description: str

    def close(self) -> None:
        """Close the client and the cluster we started. When called while an exception (a Ctrl-C, say) is
        propagating, the shutdown is quiet and cannot itself be interrupted: a second SIGINT is ignored until both
        are closed (an interrupted close leaves a client whose event loop is gone, and Dask then prints errors from
        ``Client.__del__`` and its exit handlers), and Dask's own shutdown messages (workers killed mid-run,
        cancelled tasks, closed connections) are not printed: the command reports the interruption itself."""
        import sys

        with quiet_shutdown(sys.exc_info()[0] is not None):
            try:
                self.client.close()
            finally:
                if self.cluster is not None:
                    self.cluster.close()


def ignore_closed_loop_errors() -> None:
    """Do not print the "Exception ignored in ..." report of a Dask object finalised after its event loop closed
    (``RuntimeError: IOLoop is closed`` from ``Client.__del__`` at a shutdown); every other unraisable exception is
    reported as before."""
    import sys

    previous = sys.unraisablehook
    if getattr(previous, "_ensembles_closed_loop", False):
        return

    def hook(unraisable) -> None:
        exc, obj = unraisable.exc_value, unraisable.object
        if (isinstance(exc, RuntimeError) and "IOLoop is closed" in str(exc)
                and getattr(obj, "__module__", "").startswith("distributed")):
            return
        previous(unraisable)

    hook._ensembles_closed_loop = True
    sys.unraisablehook = hook


#: the loggers that report a cluster's shutdown (closed connections, cancelled tasks, workers that stopped)
_SHUTDOWN_LOGGERS = ("distributed", "tornado", "asyncio")


class quiet_shutdown:  # noqa: N801 - used as a context manager, like contextlib's
    """While active (``quiet`` true): SIGINT is ignored (main thread only) and the shutdown loggers are silent."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self._levels: dict[str, int] = {}
        self._sigint = None

    def __enter__(self):
        if not self.quiet:
            return self
        import logging
        import signal
        import threading

        for name in _SHUTDOWN_LOGGERS:
            log = logging.getLogger(name)
            self._levels[name] = log.level
            log.setLevel(logging.CRITICAL + 1)
        if threading.current_thread() is threading.main_thread():
            self._sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
        ignore_closed_loop_errors()  # kept after the shutdown: objects are also finalised at the interpreter's exit
        return self

    def __exit__(self, *exc) -> None:
        if not self.quiet:
            return
        import logging
        import signal

        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        if self._sigint is not None:
            signal.signal(signal.SIGINT, self._sigint)


def make_slurm_cluster(options: Mapping[str, Any] | None = None):
    """Build (without submitting any job) the ``SLURMCluster`` described by ``[scheduler.slurm]``."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("--scheduler slurm needs dask-jobqueue: pip install 'ensembles-toolkit[slurm]'") from err
    kwargs, scale = slurm_cluster_kwargs(options)
    return SLURMCluster(**kwargs), scale


def check_scheduler(scheduler: str) -> str:
    """Return ``scheduler`` if it is ``"local"``, ``"slurm"`` or a scheduler address; else raise a ParameterError."""
    if isinstance(scheduler, str) and (scheduler in ("local", "slurm") or ADDRESS_RE.match(scheduler)):
        return scheduler
    raise ParameterError(
        "The 'scheduler' parameter must be 'local', 'slurm' or a scheduler address such as 'tcp://host:8786'. "
        f"Got {scheduler!r} instead."
    )


def connect(scheduler: str, options: Mapping[str, Mapping[str, Any]] | None = None, *,
            n_runs: int | None = None) -> ClusterHandle:
    """Start or connect to the cluster named by ``scheduler`` (``"local"``, ``"slurm"`` or an address)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover
        raise ImportError("Sweeps need dask.distributed (a dependency of ensembles-toolkit): pip install "
                          "'dask[distributed]'") from err
    options = options or {}
    if scheduler == "local":
        import dask

        kwargs, torch_threads = local_cluster_kwargs(options.get("local"), n_runs=n_runs)
        with dask.config.set(LOCAL_WORKER_CONFIG):
            cluster = LocalCluster(**kwargs)
        desc = (f"local cluster: {kwargs['n_workers']} worker(s) x {kwargs['threads_per_worker']} thread(s), "
                f"torch threads {torch_threads}")
        return ClusterHandle(Client(cluster), cluster, "local", torch_threads, desc)
    if scheduler == "slurm":
        cluster, scale = make_slurm_cluster(options.get("slurm"))
        cluster.adapt(minimum_jobs=scale["minimum_jobs"], maximum_jobs=scale["maximum_jobs"])
        desc = f"SLURM cluster (adaptive, up to {scale['maximum_jobs']} jobs)"
        return ClusterHandle(Client(cluster), cluster, "slurm", scale["torch_threads"], desc)
    if ADDRESS_RE.match(scheduler):
        client = Client(scheduler, timeout="30s")
        return ClusterHandle(client, None, "address", 1, f"scheduler at {scheduler}")
    raise ParameterError(
        "The 'scheduler' parameter must be 'local', 'slurm' or a scheduler address such as 'tcp://host:8786'. "
        f"Got {scheduler!r} instead."
    )
