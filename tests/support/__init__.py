"""Shared test support (no tests here)."""
