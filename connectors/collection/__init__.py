"""Collecting the data: the run queue (queue), executing a run page by page (engine), the
shared rate limit, the directory refresh, schedules, and the run pages (views, reads)."""
