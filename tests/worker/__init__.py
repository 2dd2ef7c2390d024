"""Tests of the in-process worker runtime, on both store backends."""
