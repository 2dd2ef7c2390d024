"""The worker runtime: claiming, executing and acknowledging jobs."""
