"""Alembic revisions of the car-wash domain schema (run by ``carwash.schema.migrate``)."""
