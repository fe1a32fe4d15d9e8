"""Set-up of the worker processes of a local Dask cluster, loaded as a preload.

Ctrl-C in a terminal sends SIGINT to every process of the group. A worker
that took it would die in the middle of its task and print a traceback,
while the client, which alone handles it, stops the cluster in order. So
the worker processes ignore SIGINT. distributed imports this module in each
worker process before the worker starts.

NOTE: a SIGINT that arrives while the cluster starts, before a worker
process has imported this module, still ends in tracebacks.

When Ctrl-C stops the client while the scheduler gathers a result from a
worker, the worker logs the closed connection at ERROR with a traceback.
The tasks of a batch exchange no data between workers, so in this cluster
that error only follows the end of the client, and it is dropped.
"""

import logging
import signal

from mfinpaint.cluster import _drop_closed_transfers

signal.signal(signal.SIGINT, signal.SIG_IGN)
logging.getLogger("distributed.worker").addFilter(_drop_closed_transfers)
