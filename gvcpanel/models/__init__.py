"""Estimators: the fixed-effects engine, linear panel models, binary hazards, moderation."""
