"""C-GET: objects come back on our own association, stored as the receiver stores them.

The association proposes a storage context (with SCP role selection) for each SOP
class that may come back, within the 128-context limit, and says which the peer
refused. Each arriving object is written by the receiver's own code
(:func:`dicomtui.core.scp.store.store_received`): the bytes as received, file
meta added, named and placed atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import evt

from dicomtui.core.net.observer import association_id
from dicomtui.core.net.spool_file import SpoolTarget, end_spool_target, set_spool_target
from dicomtui.core.qr.models import Model, Operation, model_uid
from dicomtui.core.qr.move import retrieve_finished
from dicomtui.core.qr.negotiation import (
    ExtendedOptions,
    describe_refused,
    get_contexts,
    refused_storage,
    retrieve_extended_negotiation,
    retrieve_storage_classes,
    storage_roles,
)
from dicomtui.core.qr.operation import Outcome, QueryRetrieveRequest
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scp.storage import spool_directory
from dicomtui.core.scp.store import store_received
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import Level, LogMessage, RetrieveFinished, Side


class GetJob:
    """One C-GET: :meth:`run` on a worker thread, :meth:`cancel` from anywhere.

    ``storage`` says where and how objects are stored (its output folder, layout,
    duplicates, extension, ``ignore``); its network settings are not used.
    ``storage_classes`` are proposed first (classes known to be coming).
    """

    def __init__(
        self,
        network: SenderSettings,
        identifier: Dataset,
        bus: EventBus,
        storage: ReceiverSettings,
        *,
        model: Model = Model.PATIENT,
        extended: ExtendedOptions | None = None,
        storage_classes: Sequence[str] = (),
        want_pdu_dumps: Callable[[], bool] | None = None,
    ) -> None:
        uid = model_uid(model, Operation.GET)
        self.bus = bus
        self.storage = storage
        self.output_directory = storage.output_directory.resolve()
        self.classes = retrieve_storage_classes(storage_classes)
        self.received = 0
        self.outcome: Outcome | None = None
        self.request = QueryRetrieveRequest(
            network,
            Operation.GET,
            model,
            identifier,
            bus,
            contexts=get_contexts(uid, self.classes),
            ext_neg=[
                *storage_roles(self.classes),
                *retrieve_extended_negotiation(uid, extended or ExtendedOptions()),
            ],
            extra_handlers=[
                (evt.EVT_CONN_OPEN, self._on_conn_open),
                (evt.EVT_C_STORE, self._on_c_store),
                (evt.EVT_CONN_CLOSE, self._on_conn_close),
            ],
            on_associated=self._check_roles,
            want_pdu_dumps=want_pdu_dumps,
        )

    def cancel(self) -> None:
        self.request.cancel()

    def _check_roles(self, assoc: Any) -> str:
        refused = refused_storage(assoc, self.classes)
        if len(refused) == len(self.classes):
            return "the peer accepted none of the storage contexts for the objects coming back"
        if refused:
            self.bus.publish(
                LogMessage(
                    side=Side.SENDER,
                    assoc_id=association_id(assoc),
                    level=Level.INFO,
                    text=describe_refused(refused, len(self.classes)),
                )
            )
        return ""

    def _on_conn_open(self, event: Any) -> None:
        directory = None if self.storage.ignore else spool_directory(self.output_directory)
        set_spool_target(event.assoc.dul, SpoolTarget(directory))

    def _on_conn_close(self, event: Any) -> None:
        end_spool_target(event.assoc.dul)

    def _on_c_store(self, event: Any) -> int:
        # On the thread that runs the C-GET, inside its response loop.
        try:
            status = store_received(
                event, self.storage, self.output_directory, self.bus, Side.RECEIVER
            )
        finally:
            _discard_partial(event.request)
        if status == 0x0000:
            self.received += 1
        self.request.send_cancel_if_asked()
        return status

    def run(self) -> RetrieveFinished:
        if not self.storage.ignore:
            try:
                self.output_directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.bus.publish(
                    LogMessage(
                        side=Side.SENDER,
                        level=Level.ERROR,
                        text=f"Cannot create the output folder {self.output_directory}: "
                        f"{exc.strerror or exc}",
                    )
                )
        self.outcome = self.request.run()
        result = retrieve_finished(Operation.GET, self.outcome, received=self.received)
        self.bus.publish(result)
        return result


def _discard_partial(request: Any) -> None:
    """pynetdicom's requestor leaves the received file open and in place (its
    Storage SCP removes it): close it, and remove it if it was not stored."""
    partial = getattr(request, "_dataset_file", None)
    if partial is None:
        return
    with contextlib.suppress(OSError):
        partial.close()
    with contextlib.suppress(OSError, TypeError):
        Path(str(partial.name)).unlink(missing_ok=True)
