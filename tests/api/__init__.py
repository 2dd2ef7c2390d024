"""Tests of the HTTP API (conveyor.api)."""
