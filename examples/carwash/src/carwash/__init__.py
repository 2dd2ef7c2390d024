"""The car-wash application: an ordinary user of Conveyor's public API."""
