"""The systems under benchmark: Conveyor on both stores and the peers, one adapter each."""
