"""How each behaviour is put into words, for each reader: one place for all of them.

- `what`: the classifier's explanation of a signal (operations, the API, Grafana);
- `pattern` and `action`: the account lead's alert (what is going on, what to do);
- `title`, `seen` and `helps`: the client's review report, phrased constructively.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.events.outputs import Behaviour


@dataclass(frozen=True)
class Words:
    what: str
    pattern: str
    action: str
    title: str
    seen: str  # "{n} request{s} went ...": formatted with the count
    helps: str

    def habit(self, n: int) -> str:
        """The report's sentence for `n` findings."""
        return f"{self.seen.format(n=n, s='' if n == 1 else 's')}. {self.helps}"


WORDS: dict[Behaviour, Words] = {
    Behaviour.direct_to_tech: Words(
        what="requests went straight to a technician instead of the service desk",
        pattern="requests going straight to technicians",
        action=(
            "Call the client's main contact. Ask that every request goes to the service desk "
            "(portal, email or phone queue), so it is logged, prioritised and covered when a "
            "technician is away; offer a short walk-through of the portal. Ask the "
            "technicians named in the evidence to redirect such requests politely."
        ),
        title="Requests through the service desk",
        seen="{n} request{s} went straight to a technician rather than to the service desk",
        helps=(
            "Through the service desk, every request is logged, prioritised and handled even "
            "when that technician is away, and nothing waits unseen."
        ),
    ),
    Behaviour.late_reporting: Words(
        what="problems were reported late, after they had become severe",
        pattern="problems reported late",
        action=(
            "Talk to the client about reporting problems when they start: an early ticket is "
            "cheaper and faster to fix. Go through the devices below with them; consider "
            "having the service desk call the client when monitoring alerts on these devices."
        ),
        title="Reporting problems early",
        seen="{n} problem{s} reached us some time after our monitoring or your staff saw them",
        helps=(
            "A quick call or e-mail as soon as something seems wrong lets us fix it while it "
            "is still small."
        ),
    ),
    Behaviour.skipped_meeting: Words(
        what="scheduled meetings or reviews were skipped or cancelled late",
        pattern="skipped meetings and reviews",
        action=(
            "Reschedule the missed meeting yourself with the decision maker and confirm it in "
            "writing; ask whether the time or format of the reviews suits them."
        ),
        title="Keeping our review meetings",
        seen="{n} planned meeting{s} did not take place or were moved at short notice",
        helps="Regular reviews are where we plan ahead together; a short one beats none.",
    ),
    Behaviour.ignored_recommendation: Words(
        what="recommendations were declined or left unanswered",
        pattern="recommendations left unanswered",
        action=(
            "Follow up on the open recommendations with the decision maker: restate the risk "
            "and the cost of waiting, and ask for a decision by a date."
        ),
        title="Deciding on recommendations",
        seen="{n} recommendation{s} were declined or are still waiting for a decision",
        helps="A clear yes or no, even a no, lets us plan budgets and risks with you.",
    ),
    Behaviour.unannounced_change: Words(
        what="devices or remote-access tools appeared without a request",
        pattern="changes made without telling us",
        action=(
            "Ask the client who added the devices or tools below and why; agree that changes "
            "go through a change request first, so they are secured, supported and licensed."
        ),
        title="Telling us about changes",
        seen="{n} device{s} or remote-access tool{s} appeared without a request beforehand",
        helps=(
            "A short note before a new device or tool arrives lets us secure and support it "
            "from the first day."
        ),
    ),
}
