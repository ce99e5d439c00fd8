"""Set-up of every worker process of a local sweep cluster (a Dask preload module, ``distributed.worker.preload``).

A Ctrl-C in a terminal reaches every process of the foreground group, the workers included. A worker that took it
would cancel its run from the inside and print Dask's tracebacks; instead the workers ignore SIGINT, the command's
own process handles it (``ensembles: interrupted``) and closes the cluster, which ends the workers (a run in
progress resumes from its last checkpoint next time). The cancellations and closed connections of that shutdown are
not logged as warnings, and a Dask object finalised after its event loop closed does not print an ignored exception.
"""

from __future__ import annotations

import logging
import signal
import threading


def dask_setup(worker) -> None:  # noqa: ARG001 - the preload interface passes the worker
    from ensembles.sweep.cluster import ignore_closed_loop_errors

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)
    # a worker ended by the closing cluster: its connections close under it ("Closing dangling stream")
    logging.getLogger("distributed.comm").setLevel(logging.ERROR)
    ignore_closed_loop_errors()
