"""Developer tools that are not part of the package or the test suite (python -m tools.<name>)."""
