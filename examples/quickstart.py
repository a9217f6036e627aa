"""Use a burst cluster from Python: connect, compute, report.

    burst up -n 3
    python3 examples/quickstart.py "$(burst status -o json | jq -r .scheduler_address)"
"""
import sys

import dask.array as da
from dask.distributed import Client

client = Client(sys.argv[1], timeout=60)
client.wait_for_workers(3, timeout=120)
print(f"connected to {len(client.scheduler_info()['workers'])} workers at {sys.argv[1]}")
x = da.ones((1000, 1000, 100), chunks=(250, 250, 100))
print(f"mean of {x.size:,} ones computed on the cluster: {x.mean().compute()}")
client.close()
