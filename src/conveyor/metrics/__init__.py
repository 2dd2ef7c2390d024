"""Prometheus metrics: per-worker tallies, the cluster-wide collector and the endpoints."""
