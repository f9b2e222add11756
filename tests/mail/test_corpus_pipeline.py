"""Every mail of the shared real-world corpus (189) through the whole pipeline: none may crash
it. A quarantine must be a decision with a reason (e.g. no sender at all), never a bug."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.mail.models import InboundEmail
from tests.mail.corpus import CORPUS, corpus_files

pytestmark = pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").exists(),
                                reason=f"the mail corpus is not at {CORPUS}")


@pytest.mark.parametrize("path", ["bulk", "one_by_one"])
def test_the_whole_corpus_goes_through(mail_org, in_org, path, monkeypatch):
    from helpdesk.mail import pipeline, poller

    if path == "one_by_one":
        monkeypatch.setattr(pipeline, "_fast_path", lambda rows, ctx: list(rows))
    # Some corpus files share a Message-ID (the same fixture in several projects): the k-th copy
    # goes to the k-th org, so that every one of them is processed, not deduplicated away.
    seen: Counter = Counter()
    by_org: dict[int, list[bytes]] = {}
    for file in corpus_files():
        raw = file.read_bytes()
        key = poller.dedupe_key(raw)
        by_org.setdefault(seen[key], []).append(raw)
        seen[key] += 1
    outcomes: Counter = Counter()
    reasons, bugs, stored = [], [], 0
    for index, raws in by_org.items():
        slug = f"corpus-{path.replace('_', '-')}-{index}"
        org = mail_org(slug, address=f"support@{slug}.test")
        with in_org(org.id):
            stored += poller.store(org.id, org.mailbox_id, [(None, raw) for raw in raws])
            pipeline.process_pending(org.id)
            for row in db.session.scalars(select(InboundEmail)):
                outcomes[f"{row.status.value}:{row.outcome}"] += 1
                if row.status.value == "quarantined":
                    reasons.append(f"{row.subject[:40]!r}: {row.error[:120]}")
                    if not row.error.startswith(("no sender", "sender address")):
                        bugs.append(reasons[-1])
    print(f"\n{stored} corpus mails stored and processed: {dict(sorted(outcomes.items()))}")
    print("\n".join(f"  quarantined {r}" for r in reasons))
    assert stored == len(corpus_files()) == 189
    assert outcomes.get("received:", 0) == 0 and bugs == []
