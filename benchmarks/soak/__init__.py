"""``make soak``: workers and the API under a steady load for a long time, and the slope
of each process's memory (RSS) over it."""
