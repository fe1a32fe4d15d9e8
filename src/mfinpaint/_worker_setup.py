"""Set-up of the worker processes of a local Dask cluster, loaded as a preload.

Ctrl-C in a terminal sends SIGINT to every process of the group. A worker
that took it would die in the middle of its task and print a traceback,
while the client, which alone handles it, stops the cluster in order. So
the worker processes ignore SIGINT. distributed imports this module in each
worker process before the worker starts.

NOTE: a SIGINT that arrives while the cluster starts, before a worker
process has imported this module, still ends in tracebacks.
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
