"""Tests of Conveyor's application-facing Python API."""
