"""`manage.py bench`: Mocha's benchmark suite (BENCHMARKS.md), each phase in its own process and
database."""
