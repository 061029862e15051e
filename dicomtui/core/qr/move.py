"""C-MOVE: ask a PACS to send objects to a destination AE title (often our receiver)."""

from __future__ import annotations

from collections.abc import Callable

from pydicom.dataset import Dataset

from dicomtui.core.qr.models import Model, Operation, model_uid
from dicomtui.core.qr.negotiation import (
    ExtendedOptions,
    query_context,
    retrieve_extended_negotiation,
)
from dicomtui.core.qr.operation import Outcome, QueryRetrieveRequest
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import RetrieveFinished, Side


def retrieve_finished(
    operation: Operation, outcome: Outcome, destination: str = "", received: int = 0
) -> RetrieveFinished:
    c = outcome.counts
    return RetrieveFinished(
        side=Side.SENDER,
        operation=operation.value,
        status=outcome.status,
        completed=c.completed or 0,
        failed=c.failed or 0,
        warning=c.warning or 0,
        remaining=c.remaining or 0,
        failed_instances=outcome.failed_instances,
        seconds=outcome.seconds,
        cancelled=outcome.cancelled,
        error=outcome.error,
        destination=destination,
        received=received,
    )


class MoveJob:
    """One C-MOVE: :meth:`run` on a worker thread, :meth:`cancel` from anywhere."""

    def __init__(
        self,
        network: SenderSettings,
        identifier: Dataset,
        destination: str,
        bus: EventBus,
        *,
        model: Model = Model.PATIENT,
        extended: ExtendedOptions | None = None,
        want_pdu_dumps: Callable[[], bool] | None = None,
    ) -> None:
        uid = model_uid(model, Operation.MOVE)
        self.bus = bus
        self.destination = destination
        self.outcome: Outcome | None = None
        self.request = QueryRetrieveRequest(
            network,
            Operation.MOVE,
            model,
            identifier,
            bus,
            contexts=[query_context(uid)],
            ext_neg=retrieve_extended_negotiation(uid, extended or ExtendedOptions()),
            destination=destination,
            want_pdu_dumps=want_pdu_dumps,
        )

    def cancel(self) -> None:
        self.request.cancel()

    def run(self) -> RetrieveFinished:
        self.outcome = self.request.run()
        result = retrieve_finished(Operation.MOVE, self.outcome, self.destination)
        self.bus.publish(result)
        return result
