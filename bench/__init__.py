"""The benchmark harness of issue 7: `python bench/run.py [--quick | --smoke]` (docs/performance.md)."""
