"""Fixed, synthetic event streams for snapshot tests: no clock, UID or port varies."""

from __future__ import annotations

from dicomtui.core.stream.events import (
    AssociationAccepted,
    AssociationReleased,
    AssociationRequested,
    ConnectionOpened,
    ContextSummary,
    DimseMessage,
    FileSending,
    FileSent,
    FileSkipped,
    ObjectReceived,
    PduDump,
    ReceiverFailed,
    ReceiverStarted,
    SendProgress,
    SendStarted,
    Side,
)

#: 2026-11-22 09:30:00 UTC
T0 = 1795339800.0
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT = "1.2.840.10008.1.2.1"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"

R, S = Side.RECEIVER, Side.SENDER


def listening(port: int = 11112) -> list:
    return [
        ReceiverStarted(
            side=R,
            timestamp=T0,
            address="",
            port=port,
            ae_title="DICOMTUI",
            output_directory="/data/dicom-inbox",
        )
    ]


def port_in_use(port: int = 11112) -> list:
    return [
        ReceiverFailed(
            side=R, timestamp=T0, reason=f"Cannot listen on *:{port}: the port is already in use"
        )
    ]


def _association(assoc_id: int, t: float, peer: str, calling: str) -> list:
    host, port = peer.split(":")
    return [
        ConnectionOpened(
            side=R, assoc_id=assoc_id, timestamp=t, peer_address=host, peer_port=int(port)
        ),
        AssociationRequested(
            side=R,
            assoc_id=assoc_id,
            timestamp=t,
            peer_address=host,
            peer_port=int(port),
            calling_ae_title=calling,
            called_ae_title="DICOMTUI",
        ),
        AssociationAccepted(
            side=R,
            assoc_id=assoc_id,
            timestamp=t,
            peer_address=host,
            peer_port=int(port),
            calling_ae_title=calling,
            called_ae_title="DICOMTUI",
            local_max_pdu=16382,
            peer_max_pdu=16384,
            accepted=(ContextSummary(1, CT, EXPLICIT, "Accepted"),),
            rejected=(),
        ),
    ]


def _received(
    assoc_id: int, t: float, n: int, sop: str, patient: str, modality: str, syntax: str
) -> list:
    uid = f"1.2.826.0.1.3680043.8.498.{assoc_id}{n:04d}"
    prefix = "CT" if sop == CT else "MR"
    return [
        DimseMessage(
            side=R,
            assoc_id=assoc_id,
            timestamp=t,
            incoming=True,
            message_type="C-STORE RQ",
            context_id=1,
            message_id=n,
            sop_class=sop,
            sop_instance=uid,
            has_dataset=True,
            priority=2,
        ),
        ObjectReceived(
            side=R,
            assoc_id=assoc_id,
            timestamp=t,
            sop_class=sop,
            sop_instance=uid,
            transfer_syntax=syntax,
            size=524_288 + n * 1000,
            filename=f"{prefix}.{uid}",
            path=f"/data/dicom-inbox/{prefix}.{uid}",
            status=0,
            patient_name=patient,
            patient_id="PID-0042",
            modality=modality,
        ),
    ]


def mid_transfer() -> list:
    events = listening()
    events += _association(3, T0 + 1, "10.0.4.21:51734", "CT_SCANNER_01")
    for n in range(1, 7):
        events += _received(3, T0 + 1 + n * 0.4, n, CT, "DOE^JANE", "CT", EXPLICIT)
    events += _association(4, T0 + 2, "10.0.4.37:40122", "MR_3T_EAST")
    for n in range(1, 4):
        events += _received(4, T0 + 2 + n * 0.5, n, MR, "ROE^RICHARD", "MR", JPEG_LOSSLESS)
    events += _association(2, T0 - 30, "10.0.9.8:33120", "ORTHANC")
    events += _received(2, T0 - 29, 1, CT, "POE^EDGAR", "CT", EXPLICIT)
    events.append(AssociationReleased(side=R, assoc_id=2, timestamp=T0 - 28))
    events += [
        PduDump(
            side=R,
            assoc_id=4,
            timestamp=T0 + 2,
            incoming=True,
            pdu_type="A-ASSOCIATE-RQ",
            lines=(
                "Request Parameters:",
                f"{' INCOMING A-ASSOCIATE-RQ PDU ':=^76}",
                "Their Implementation Class UID:      1.2.276.0.7230010.3.0.3.6.7",
                "Calling Application Name:            MR_3T_EAST",
                "Called Application Name:             DICOMTUI",
                f"{' END A-ASSOCIATE-RQ PDU ':=^76}",
            ),
        )
    ]
    # The sender, a third of the way through a study.
    events.append(
        SendStarted(
            side=S,
            timestamp=T0,
            peer_address="pacs.example.org",
            peer_port=104,
            called_ae_title="PACS",
            total_files=120,
            total_bytes=62_914_560,
        )
    )
    events.append(
        FileSkipped(
            side=S,
            timestamp=T0,
            path="/studies/ct-head/DICOMDIR",
            reason="DICOMDIR (a media directory, not an object to send)",
        )
    )
    for n in range(1, 41):
        path = f"/studies/ct-head/IM{n:05d}.dcm"
        events.append(
            FileSending(side=S, timestamp=T0 + n * 0.1, path=path, message_id=n, sop_class=CT)
        )
        events.append(
            FileSent(
                side=S,
                timestamp=T0 + n * 0.1,
                path=path,
                sop_class=CT,
                sop_instance=f"1.2.3.{n}",
                transfer_syntax=EXPLICIT,
                size=524_288,
                status=0xB000 if n == 17 else 0,
            )
        )
    events.append(
        SendProgress(
            side=S,
            timestamp=T0 + 4,
            files_done=40,
            files_total=120,
            bytes_done=40 * 524_288,
            bytes_total=62_914_560,
            elapsed=4.0,
        )
    )
    return events
