"""Mail settings pages (mailboxes, quarantine): written next."""
