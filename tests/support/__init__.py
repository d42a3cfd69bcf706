"""Test-only stand-ins shared by several test files (not part of the package)."""
