"""Set-up of every worker process of a local sweep cluster (a Dask preload module, ``distributed.worker.preload``).

A Ctrl-C in a terminal reaches every process of the foreground group, the workers included. A worker that took it
would cancel its run from the inside and print Dask's tracebacks; instead the workers ignore SIGINT, the command's
own process handles it (``ensembles: interrupted``) and closes the cluster, which ends the workers (a run in
progress resumes from its last checkpoint next time). The cancellations of that shutdown are not logged as warnings.
"""

from __future__ import annotations

import logging
import signal
import threading


def dask_setup(worker) -> None:  # noqa: ARG001 - the preload interface passes the worker
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)
