"""Publication output: tables."""
