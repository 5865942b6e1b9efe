"""Score a pipeline's outputs against a scenario's truth: pure functions over plain data.

- work: accuracy of the class of every work reference the truth labels (a
  reference the pipeline never labelled counts as wrong);
- signals, per behaviour: a prediction matches a true signal when client and
  behaviour agree and their evidence shares a reference; each true signal
  matches at most one prediction and each prediction at most one true signal
  (a maximum matching), so precision = matched / predicted and recall =
  matched / true (1.0 when there is nothing to find or nothing predicted);
- bands: agreement of each client's band with the truth;
- accounting: events lost (accepted by ingest, then missing from the events
  topic, never processed, dead-lettered by the classifier, or a labelled work
  record with no label) and duplicated (one vendor event stored as new twice,
  or a repeated body that got other event ids).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from services.events.outputs import Behaviour, SignalStatus
from services.scenario.files import Truth
from services.scenario.replay import Outcome

if TYPE_CHECKING:
    from services.scenario.ambiguity import Ambiguity

EXAMPLES = 10  # disagreements listed per section


@dataclass(frozen=True)
class Floors:
    """The acceptance floors of issue 4."""

    accuracy: float = 0.95
    precision: float = 0.9
    recall: float = 0.9
    bands: float = 1.0


@dataclass(frozen=True)
class PredictedWork:
    ref: str
    work_class: str
    rule: str


@dataclass(frozen=True)
class PredictedSignal:
    signal_id: str
    client: str
    behaviour: str
    evidence: frozenset[str]
    status: str = SignalStatus.open.value
    explanation: str = ""


@dataclass
class WorkScore:
    total: int
    correct: int
    unlabelled: int
    accuracy: float
    confusion: dict[str, int]
    disagreements: list[dict[str, str]]


@dataclass
class BehaviourScore:
    true: int
    predicted: int
    matched: int
    precision: float
    recall: float
    f1: float
    missed: list[dict[str, Any]] = field(default_factory=list)
    spurious: list[dict[str, Any]] = field(default_factory=list)
    # Signals raised and then withdrawn by later events (their latest version says the
    # evidence did not hold): the classifier's final word is "no signal", so they are no
    # prediction; counted here, as an account lead may have been told meanwhile.
    withdrawn: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BandScore:
    total: int
    agree: int
    agreement: float
    disagreements: list[dict[str, Any]]


@dataclass
class Accounting:
    deliveries: int
    answers: dict[str, int]
    accepted_events: int
    lost: int
    duplicated: int
    lost_examples: list[dict[str, str]]
    duplicated_examples: list[dict[str, str]]
    rejected: list[dict[str, Any]]
    transport_repeats: int  # events on the events topic more than once (deduplicated downstream)
    polled: int = 0  # the poller's posts (a scenario with api.jsonl), counted like deliveries
    polled_new: int = 0  # of which ingest stored as new: what no webhook had brought


POLLED = "poll:"  # the source of an outcome that is a poller's post (polled.PolledReplay)


@dataclass
class Report:
    work: WorkScore
    behaviours: dict[str, BehaviourScore]
    bands: BandScore
    accounting: Accounting
    floors: Floors = field(default_factory=Floors)
    ambiguity: Ambiguity | None = None  # the borderline decisions (ambiguity.py)

    def failures(self) -> list[str]:
        """Why the scores miss the acceptance floors (empty: they meet them)."""
        out = []
        if self.accounting.lost:
            out.append(f"{self.accounting.lost} event(s) lost")
        if self.accounting.duplicated:
            out.append(f"{self.accounting.duplicated} event(s) duplicated")
        if self.work.accuracy < self.floors.accuracy:
            out.append(f"work-label accuracy {self.work.accuracy:.3f} < {self.floors.accuracy}")
        for name, score in self.behaviours.items():
            if score.precision < self.floors.precision:
                out.append(f"{name} precision {score.precision:.3f} < {self.floors.precision}")
            if score.recall < self.floors.recall:
                out.append(f"{name} recall {score.recall:.3f} < {self.floors.recall}")
        if self.bands.agreement < self.floors.bands:
            out.append(f"band agreement {self.bands.agreement:.3f} < {self.floors.bands}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "work": asdict(self.work),
            "behaviours": {name: asdict(score) for name, score in self.behaviours.items()},
            "bands": asdict(self.bands),
            "accounting": asdict(self.accounting),
            "floors": asdict(self.floors),
            "ambiguity": self.ambiguity.to_dict() if self.ambiguity is not None else None,
            "passed": not self.failures(),
            "failures": self.failures(),
        }


# -- work ------------------------------------------------------------------------------


def score_work(truth: dict[str, str], predicted: dict[str, PredictedWork]) -> WorkScore:
    confusion: Counter[str] = Counter()
    disagreements = []
    correct = unlabelled = 0
    for ref in sorted(truth):
        expected = str(truth[ref])
        guess = predicted.get(ref)
        got = guess.work_class if guess else "unlabelled"
        confusion[f"{expected}->{got}"] += 1
        if guess is None:
            unlabelled += 1
        if got == expected:
            correct += 1
        else:
            disagreements.append(
                {
                    "ref": ref,
                    "truth": expected,
                    "predicted": got,
                    "rule": guess.rule if guess else "",
                }
            )
    total = len(truth)
    return WorkScore(
        total=total,
        correct=correct,
        unlabelled=unlabelled,
        accuracy=correct / total if total else 1.0,
        confusion=dict(sorted(confusion.items())),
        disagreements=disagreements[:EXAMPLES],
    )


# -- signals ---------------------------------------------------------------------------


def match(
    true: Sequence[frozenset[str]], predicted: Sequence[frozenset[str]]
) -> list[tuple[int, int]]:
    """A maximum matching of true to predicted evidence sets that share a reference."""
    edges = [[j for j, p in enumerate(predicted) if t & p] for t in true]
    owner: dict[int, int] = {}  # prediction -> true signal

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(true)):
        augment(i, set())
    return sorted((i, j) for j, i in owner.items())


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


WITHDRAWN = SignalStatus.withdrawn


def score_signals(truth: Truth, predicted: Iterable[PredictedSignal]) -> dict[str, BehaviourScore]:
    true_by: dict[tuple[str, str], list[frozenset[str]]] = defaultdict(list)
    for signal in truth.signals:
        true_by[(signal.client, str(signal.behaviour))].append(signal.evidence)
    pred_by: dict[tuple[str, str], list[PredictedSignal]] = defaultdict(list)
    withdrawn: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in predicted:
        if p.status == WITHDRAWN:
            withdrawn[p.behaviour].append({"client": p.client, "signal_id": p.signal_id})
            continue
        pred_by[(p.client, p.behaviour)].append(p)
    scores = {}
    for behaviour in Behaviour:
        name = str(behaviour)
        n_true = n_pred = matched = 0
        missed: list[dict[str, Any]] = []
        spurious: list[dict[str, Any]] = []
        clients = sorted({c for c, b in [*true_by, *pred_by] if b == name})
        for client in clients:
            trues = true_by.get((client, name), [])
            preds = pred_by.get((client, name), [])
            pairs = match(trues, [p.evidence for p in preds])
            n_true, n_pred, matched = n_true + len(trues), n_pred + len(preds), matched + len(pairs)
            hit_true = {i for i, _ in pairs}
            hit_pred = {j for _, j in pairs}
            missed += [
                {"client": client, "evidence": sorted(t)[:EXAMPLES]}
                for i, t in enumerate(trues)
                if i not in hit_true
            ]
            spurious += [
                {
                    "client": client,
                    "signal_id": p.signal_id,
                    "status": p.status,
                    "explanation": p.explanation,
                    "evidence": sorted(p.evidence)[:EXAMPLES],
                }
                for j, p in enumerate(preds)
                if j not in hit_pred
            ]
        precision, recall = _ratio(matched, n_pred), _ratio(matched, n_true)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = BehaviourScore(
            true=n_true,
            predicted=n_pred,
            matched=matched,
            precision=precision,
            recall=recall,
            f1=f1,
            withdrawn=withdrawn.get(name, []),
            missed=missed[:EXAMPLES],
            spurious=spurious[:EXAMPLES],
        )
    return scores


# -- bands -----------------------------------------------------------------------------


def score_bands(
    truth: dict[str, str], predicted: dict[str, str | None], scores: dict[str, float | None]
) -> BandScore:
    disagreements = []
    agree = 0
    for client in sorted(truth):
        expected, got = str(truth[client]), predicted.get(client)
        if got == expected:
            agree += 1
        else:
            disagreements.append(
                {"client": client, "truth": expected, "predicted": got, "score": scores.get(client)}
            )
    return BandScore(len(truth), agree, _ratio(agree, len(truth)), disagreements)


# -- accounting --------------------------------------------------------------------------


def account(
    outcomes: Sequence[Outcome],
    *,
    published: Sequence[str],
    unprocessed: Iterable[str],
    dead_lettered: Iterable[str],
    work_refs_published: Iterable[str],
    labelled_refs: Iterable[str],
    expected_work: Iterable[str] = (),
) -> Accounting:
    """Every accepted event accounted for, from ingest's answers to the outputs.

    `published`: the event ids on the events topic (with repeats); `unprocessed`: ids
    the classifier had not processed when the wait ended; `work_refs_published`: the
    refs of labelled work records (the truth's) whose events are on the topic;
    `labelled_refs`: the refs the classifier labelled; `expected_work`: the work refs
    that must be published (a scenario whose work may come only through the poller).
    """
    answers: Counter[str] = Counter()
    accepted: set[str] = set()
    stored_new: Counter[str] = Counter()
    ids_of_body: dict[str, tuple[str, ...]] = {}
    duplicated: list[dict[str, str]] = []
    rejected = []
    for outcome in outcomes:
        answers[str(outcome.status) if outcome.status else "no answer"] += 1
        if not outcome.answered:
            rejected.append(
                {
                    "seq": outcome.seq,
                    "source": outcome.source,
                    "status": outcome.status,
                    "error": outcome.error,
                }
            )
            continue
        accepted.update(outcome.event_ids)
        if outcome.accepted == len(outcome.event_ids):
            stored_new.update(outcome.event_ids)
        first = ids_of_body.setdefault(outcome.body_sha256, outcome.event_ids)
        if set(first) != set(outcome.event_ids):
            duplicated.append(
                {
                    "what": "a repeated body got other event ids",
                    "seq": str(outcome.seq),
                    "event_ids": ",".join(outcome.event_ids),
                }
            )
    duplicated += [
        {"what": "stored as new more than once", "event_id": event_id}
        for event_id, times in sorted(stored_new.items())
        if times > 1
    ]
    on_topic = Counter(published)
    lost: list[dict[str, str]] = []
    lost += [
        {"what": "accepted, not on the events topic", "event_id": e}
        for e in sorted(accepted - set(on_topic))
    ]
    unprocessed_ids = sorted(set(unprocessed) & accepted)
    lost += [{"what": "not processed by the classifier", "event_id": e} for e in unprocessed_ids]
    lost += [
        {"what": "dead-lettered by the classifier", "event_id": e}
        for e in sorted(set(dead_lettered) & accepted)
    ]
    published_work = set(work_refs_published)
    lost += [
        {"what": "work of the truth never published (no delivery or poll brought it)", "ref": r}
        for r in sorted(set(expected_work) - published_work)
    ]
    labelled = set(labelled_refs)
    lost += [
        {"what": "work record never labelled", "ref": r}
        for r in sorted(set(work_refs_published) - labelled)
    ]
    polled = [o for o in outcomes if o.source.startswith(POLLED)]
    return Accounting(
        deliveries=len(outcomes) - len(polled),
        answers=dict(sorted(answers.items())),
        accepted_events=len(accepted),
        lost=len(lost),
        duplicated=len(duplicated),
        lost_examples=lost[:EXAMPLES],
        duplicated_examples=duplicated[:EXAMPLES],
        rejected=rejected[:EXAMPLES],
        transport_repeats=sum(n - 1 for n in on_topic.values() if n > 1),
        polled=len(polled),
        polled_new=sum(1 for o in polled if o.answered and o.accepted),
    )


def score(
    truth: Truth,
    *,
    work: dict[str, PredictedWork],
    signals: Sequence[PredictedSignal],
    bands: dict[str, str | None],
    band_scores: dict[str, float | None],
    accounting: Accounting,
    floors: Floors | None = None,
) -> Report:
    return Report(
        work=score_work({r: str(c) for r, c in truth.work.items()}, work),
        behaviours=score_signals(truth, signals),
        bands=score_bands({c: str(b) for c, b in truth.health.items()}, bands, band_scores),
        accounting=accounting,
        floors=floors or Floors(),
    )
