"""The value-chain domain on top of the generic core: governance, upgrading, hypotheses, simulation."""
