"""Background processes: the RQ worker, the scheduler (and, with the email channel, the poller)."""
