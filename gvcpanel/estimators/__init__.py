"""Estimators: fixed-effects panel regressions, discrete-time upgrading hazards, moderation."""
