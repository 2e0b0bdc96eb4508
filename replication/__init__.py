"""The replication package: `make replicate` runs `python -m replication.run`."""
