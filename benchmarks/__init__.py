"""Benchmarks, model cards and peer comparisons: `python -m benchmarks report|benchmark|evaluate`.

Above the core library (`denoiser`) and the trainer, never imported by either, and not installed:
it runs from a clone, next to the data sets and the peers' weights it measures with.
"""
