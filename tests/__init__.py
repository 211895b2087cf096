"""The test suite: a unit tier (tests/unit) and a CPU integration tier that runs verl for real (tests/integration)."""
