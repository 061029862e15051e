"""The event stream and its readers: events, the bus, log wording, tracking, reports."""
