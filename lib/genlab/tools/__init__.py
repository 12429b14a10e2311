"""Test and benchmark tooling that drives the library from outside (above every other layer but the CLI)."""
