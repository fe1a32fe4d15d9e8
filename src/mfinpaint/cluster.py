"""Connecting to Dask distributed: a local cluster on loopback or a given scheduler."""

import contextlib
import logging

from ._validation import check_int
from .errors import ClusterError, InvalidParameterError

__all__ = ["dask_client"]

log = logging.getLogger(__name__)

# The local cluster listens on loopback only, so no other machine can reach its
# scheduler, workers or HTTP endpoints.
LOCAL_HOST = "127.0.0.1"


@contextlib.contextmanager
def dask_client(client=None, scheduler=None, workers=None):
    """Yield a ``distributed.Client`` for one run, and close what was opened here.

    Parameters
    ----------
    client : distributed.Client, optional
        Use this client and leave it open. Excludes the other two options.
    scheduler : str, optional
        Address of a running Dask scheduler, such as ``"tcp://10.0.0.5:8786"``.
        Its workers must have mfinpaint installed and see the same file paths.
    workers : int, optional
        Number of worker processes of a ``LocalCluster`` started on 127.0.0.1,
        each with one thread. Default: the CPU count that Dask detects.

    Raises
    ------
    InvalidParameterError
        More than one option is given, or ``workers`` is not a positive integer.
    ClusterError
        The scheduler cannot be reached or the local cluster fails to start.
    """
    chosen = [
        name
        for name, value in (
            ("client", client),
            ("scheduler", scheduler),
            ("workers", workers),
        )
        if value is not None
    ]
    if len(chosen) > 1:
        raise InvalidParameterError(
            f"give at most one of client, scheduler and workers, got {chosen}."
        )
    if client is not None:
        yield client
        return
    if scheduler is not None:
        with _connect(scheduler) as opened:
            yield opened
        return
    with _local_cluster(workers) as opened:
        yield opened


@contextlib.contextmanager
def _connect(address):
    from distributed import Client

    if not isinstance(address, str) or not address.strip():
        raise InvalidParameterError(
            f"scheduler must be an address such as 'tcp://host:8786', got {address!r}."
        )
    log.info("connecting to the Dask scheduler at %s", address)
    try:
        client = Client(address, set_as_default=False)
    except (OSError, ValueError, TypeError) as error:
        # distributed raises OSError on a timeout or a refused connection and
        # ValueError or TypeError on an address it cannot parse.
        raise ClusterError(
            f"cannot connect to the Dask scheduler at {address!r}: {error}. Check "
            "the address and that the scheduler is running."
        ) from error
    with client:
        yield client


@contextlib.contextmanager
def _local_cluster(workers):
    from dask.system import CPU_COUNT
    from distributed import Client, LocalCluster

    workers = CPU_COUNT if workers is None else check_int("workers", workers, 1)
    log.info("starting a local Dask cluster of %d worker processes", workers)
    try:
        # NOTE: distributed starts an HTTP server (metrics, and the dashboard
        # when bokeh is installed) even without a dashboard. It listens on a
        # free loopback port because of the address given here.
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host=LOCAL_HOST,
            dashboard_address=f"{LOCAL_HOST}:0",
        )
    except (OSError, RuntimeError) as error:
        raise ClusterError(f"cannot start a local Dask cluster: {error}.") from error
    with cluster, Client(cluster, set_as_default=False) as client:
        yield client
    log.info("stopped the local Dask cluster")
