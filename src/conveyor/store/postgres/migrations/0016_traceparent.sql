-- The W3C traceparent of the span that enqueued the job (the optional OpenTelemetry
-- tracing, conveyor[otel]); the worker's execution span links to it. NULL without tracing.
ALTER TABLE conveyor_jobs ADD COLUMN traceparent TEXT;
