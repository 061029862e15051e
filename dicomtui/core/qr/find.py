"""C-FIND: query a PACS (or a worklist) and collect the matches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydicom.dataset import Dataset

from dicomtui.core.qr.models import Model, Operation, model_uid
from dicomtui.core.qr.negotiation import (
    ExtendedOptions,
    find_extended_negotiation,
    query_context,
)
from dicomtui.core.qr.operation import Outcome, QueryRetrieveRequest
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import QueryFinished, Side


class FindJob:
    """One C-FIND: :meth:`run` on a worker thread, :meth:`cancel` from anywhere.

    Each match is passed to ``on_match`` as it arrives (decoded with its Specific
    Character Set) and kept in :attr:`matches` unless ``keep`` is False.
    """

    def __init__(
        self,
        network: SenderSettings,
        query: Dataset,
        bus: EventBus,
        *,
        model: Model = Model.PATIENT,
        extended: ExtendedOptions | None = None,
        on_match: Callable[[Dataset], None] | None = None,
        keep: bool = True,
        want_pdu_dumps: Callable[[], bool] | None = None,
    ) -> None:
        uid = model_uid(model, Operation.FIND)
        self.bus = bus
        self.matches: list[Dataset] = []
        self._on_match = on_match
        self._keep = keep
        self.outcome: Outcome | None = None
        self.request = QueryRetrieveRequest(
            network,
            Operation.FIND,
            model,
            query,
            bus,
            contexts=[query_context(uid)],
            ext_neg=find_extended_negotiation(
                uid, extended or ExtendedOptions(), worklist=model is Model.WORKLIST
            ),
            on_identifier=self._match,
            want_pdu_dumps=want_pdu_dumps,
        )

    def _match(self, identifier: Dataset) -> None:
        if self._keep:
            self.matches.append(identifier)
        if self._on_match is not None:
            self._on_match(identifier)

    def cancel(self) -> None:
        self.request.cancel()

    def run(self) -> QueryFinished:
        outcome = self.outcome = self.request.run()
        result = QueryFinished(
            side=Side.SENDER,
            status=outcome.status,
            matches=outcome.responses - (1 if outcome.status is not None else 0),
            seconds=outcome.seconds,
            cancelled=outcome.cancelled,
            error=outcome.error,
        )
        self.bus.publish(result)
        return result


def find(network: SenderSettings, query: Dataset, bus: EventBus, **options: Any) -> list[Dataset]:
    """The matches of one C-FIND (a convenience for callers that need no job)."""
    job = FindJob(network, query, bus, **options)
    job.run()
    return job.matches
