"""Collecting the data: the run queue (queue), executing a run (engine, with a usage
stream's pages in stream_pages, the run's heartbeat and recorder, the worker's memory),
the shared rate limit, the directory refresh, schedules, and the run pages (views,
reads)."""
