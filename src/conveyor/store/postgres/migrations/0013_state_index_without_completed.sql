-- SQLite's migration of this number narrows its state index to leave out completed jobs.
-- PostgreSQL's state index has left them out since migration 0010.
SELECT 1;
