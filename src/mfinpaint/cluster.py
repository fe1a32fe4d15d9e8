"""Connecting to Dask distributed: a local cluster on loopback or a given scheduler."""

import contextlib
import logging
import socket

from ._validation import check_int
from .errors import ClusterError, InvalidParameterError

__all__ = ["dask_client"]

log = logging.getLogger(__name__)

# The local cluster listens on loopback only, so no other machine can reach its
# scheduler, workers or HTTP endpoints.
LOCAL_HOST = "127.0.0.1"
# Seconds that the first TCP connection to a given scheduler may take before
# the Client tries again with distributed's own connect timeout.
PROBE_TIMEOUT = 5.0
# The address schemes of distributed that run over TCP. A plain TCP connection
# shows whether something listens at such an address.
TCP_SCHEMES = ("tcp", "tls", "ws", "wss")


@contextlib.contextmanager
def dask_client(client=None, scheduler=None, workers=None, tasks=None):
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
    tasks : int, optional
        Number of tasks of the run. A local cluster gets at most this many
        workers, because more would stay idle.

    Raises
    ------
    InvalidParameterError
        More than one option is given, ``workers`` is not a positive integer,
        or ``scheduler`` is not a TCP address (tcp, tls, ws or wss) with a port.
    ClusterError
        The scheduler cannot be reached or the local cluster fails to start. A
        refused connection or an unknown host name raises at once, and other
        failures after distributed's connect timeout.
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
    if workers is not None:
        workers = check_int("workers", workers, 1)
    if tasks is not None:
        from dask.system import CPU_COUNT

        workers = min(workers or CPU_COUNT, check_int("tasks", tasks, 1))
    with _local_cluster(workers) as opened:
        yield opened


@contextlib.contextmanager
def _connect(address):
    from distributed import Client

    _check_scheduler_address(address)
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


def _check_scheduler_address(address):
    """Reject an address that distributed cannot parse or a TCP port that refuses.

    distributed retries a refused connection until its connect timeout
    (30 s by default). A Client made from an address that it cannot parse
    raises, but its finalizer then blocks the exit of Python (distributed
    2026.8). Both cases are caught here, before any Client exists.
    """
    from distributed.comm.addressing import get_address_host_port, parse_address

    if not isinstance(address, str) or not address.strip():
        raise InvalidParameterError(
            f"scheduler must be an address such as 'tcp://host:8786', got {address!r}."
        )
    try:
        scheme, _ = parse_address(address)
        if scheme in TCP_SCHEMES:
            host, port = get_address_host_port(address)
    except ValueError as error:
        raise InvalidParameterError(
            f"invalid scheduler address {address!r} ({error}); give one such as "
            "'tcp://host:8786'."
        ) from None
    if scheme not in TCP_SCHEMES:
        # inproc reaches only a scheduler in this process, and ucx needs a
        # package that mfinpaint does not install.
        raise InvalidParameterError(
            f"scheduler address {address!r} uses {scheme}://, but only "
            f"{', '.join(TCP_SCHEMES)} are supported; give one such as "
            "'tcp://host:8786'."
        )
    if not 0 < port < 65536:
        raise InvalidParameterError(
            f"invalid scheduler address {address!r}: port {port} is not in 1 to "
            "65535; give one such as 'tcp://host:8786'."
        )
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
            pass
    except (ConnectionRefusedError, socket.gaierror) as error:
        raise ClusterError(
            f"cannot connect to the Dask scheduler at {address!r}: "
            f"{error.strerror or error}. Check the address and that the scheduler "
            "is running."
        ) from None
    except OSError as error:
        # A timeout or an unreachable network can be transient, so the Client
        # tries again with distributed's connect timeout.
        log.info(
            "the first connection to %s failed (%s); retrying with the connect "
            "timeout of distributed",
            address,
            error,
        )


@contextlib.contextmanager
def _local_cluster(workers):
    from dask.system import CPU_COUNT
    from distributed import Client, LocalCluster

    workers = CPU_COUNT if workers is None else check_int("workers", workers, 1)
    log.info("starting a local Dask cluster of %d worker processes", workers)
    existing = _spec_clusters()
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
            # Makes the worker processes ignore SIGINT, so that Ctrl-C stops
            # the run through this process alone.
            preload=["mfinpaint._worker_setup"],
        )
    except (OSError, RuntimeError) as error:
        raise ClusterError(f"cannot start a local Dask cluster: {error}.") from error
    except KeyboardInterrupt:
        _close_unfinished(_spec_clusters() - existing)
        raise
    scheduler_log = logging.getLogger("distributed.scheduler")
    scheduler_log.addFilter(_drop_released_gathers)
    try:
        with cluster, Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        scheduler_log.removeFilter(_drop_released_gathers)
    log.info("stopped the local Dask cluster")


def _spec_clusters():
    """Return the set of distributed's clusters that are alive in this process."""
    from distributed.deploy.spec import SpecCluster

    # NOTE: _instances is private to distributed (a WeakSet in 2026.8). Without
    # it, an interrupted start prints a traceback at exit but leaves no process.
    return set(getattr(SpecCluster, "_instances", ()))


def _close_unfinished(clusters):
    """Close clusters whose start Ctrl-C interrupted, without a traceback at exit.

    distributed closes every open cluster when Python exits, and fails with an
    AssertionError on workers that had not finished starting. Closing them
    here and marking them done keeps that traceback off stderr.
    """
    for cluster in clusters:
        with contextlib.suppress(Exception):
            cluster.close(timeout=10)
        cluster.shutdown_on_close = False


def _drop_closed_transfers(record):
    """Drop a worker's error for a result whose receiver closed the connection.

    The worker processes of the local cluster install this filter (see
    ``mfinpaint._worker_setup``).
    """
    return record.msg != "failed during get data with %s -> %s"


def _drop_released_gathers(record):
    """Drop the scheduler's error for results that the client itself released.

    When Ctrl-C interrupts a wait on a result, the futures are released while
    the scheduler still gathers their results. The scheduler of a local
    cluster runs in this process and logs at ERROR that these keys are
    forgotten. Only an interrupted run releases a future before its result
    arrives, so no other error is dropped.
    """
    if record.msg != "Couldn't gather keys: %s" or not record.args:
        return True
    states = record.args[0] if isinstance(record.args, tuple) else record.args
    return not (
        isinstance(states, dict)
        and states
        and all(state == "forgotten" for state in states.values())
    )
