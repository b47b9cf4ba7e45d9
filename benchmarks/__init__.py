"""Benchmarks of drone-patrol: `make bench` (or `python -m benchmarks [NAME ...]`)."""
