"""`manage.py bench`: Mocha's benchmark suite (CONTRACT section 8), each phase in its own process and database."""
