"""Built-in maintenance: history retention and worker-registry cleanup."""
