"""The dashboard at scale: every page's server time over a store holding a million finished jobs."""
