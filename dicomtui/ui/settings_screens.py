"""Forms for the receiver's settings and the sender's options (every manual option)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from dicomtui.core.config.validation import (
    MAX_PDU_LIMIT,
    MAX_SEND_ASSOCIATIONS,
    check_ae_title,
    parse_addresses,
    parse_ae_title,
    parse_count,
    parse_list,
    parse_optional_file,
    parse_port,
    parse_seconds,
)
from dicomtui.core.scp.receiver import server_tls_context
from dicomtui.core.scp.settings import PreferredSyntax, ReceiverSettings
from dicomtui.core.scp.storage import DuplicatePolicy, StorageLayout, check_extension
from dicomtui.core.scu.association import client_tls_context
from dicomtui.core.scu.settings import RequestSyntax, SenderSettings

PREFERRED_CHOICES = [
    ("Compressed as they come, then implicit (default)", PreferredSyntax.DEFAULT),
    ("-x=  prefer explicit VR local byte order", PreferredSyntax.UNCOMPRESSED),
    ("-xe  prefer explicit VR little endian", PreferredSyntax.LITTLE),
    ("-xb  prefer explicit VR big endian", PreferredSyntax.BIG),
    ("-xi  accept implicit VR little endian only", PreferredSyntax.IMPLICIT),
]
REQUEST_CHOICES = [
    ("Each file's own syntax, plus the 4 uncompressed (default)", RequestSyntax.DEFAULT),
    ("-xe  explicit VR little endian only", RequestSyntax.LITTLE),
    ("-xb  explicit VR big endian only", RequestSyntax.BIG),
    ("-xi  implicit VR little endian only", RequestSyntax.IMPLICIT),
]
DUPLICATE_CHOICES = [
    ("Keep both (adds ~2, ~3...)", DuplicatePolicy.KEEP_BOTH),
    ("Overwrite", DuplicatePolicy.OVERWRITE),
    ("Refuse with status 0x0111", DuplicatePolicy.REFUSE),
]

LAYOUT_CHOICES = [
    ("PREFIX.UID in the output folder (default)", StorageLayout.FLAT),
    ("A folder per study", StorageLayout.STUDY),
    ("Patient / Study / Series folders", StorageLayout.PATIENT),
]


#: Units a size may be typed in (a plain number is megabytes).
SIZE_UNITS = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
}


def size_text(size: int) -> str:
    """A size in the largest unit that says it exactly (4 GiB, 500 MB, 1.5 GB), so that
    Apply without an edit changes nothing."""
    if size == 0:
        return "0"
    for unit in ("GiB", "MiB", "KiB"):
        if size % SIZE_UNITS[unit.upper()] == 0:
            return f"{size // SIZE_UNITS[unit.upper()]} {unit}"
    for unit in ("GB", "MB", "KB"):
        scale = SIZE_UNITS[unit]
        if size >= scale and size % (scale // 1000) == 0:  # three decimals at most
            whole, part = divmod(size, scale)
            digits = f"{part:0{len(str(scale)) - 1}d}".rstrip("0")
            return f"{whole}.{digits} {unit}" if digits else f"{whole} {unit}"
    return f"{size} B"


def parse_size(text: str, what: str) -> int:
    """``500 MB``, ``4 GiB``, ``1.5GB`` or a plain number of megabytes."""
    cleaned = text.strip().upper().replace(" ", "")
    number = cleaned.rstrip("BGIKM")
    unit = cleaned[len(number) :] or "MB"
    try:
        value = float(number)
    except ValueError:
        value = -1
    if unit not in SIZE_UNITS or not value >= 0 or value == float("inf"):
        raise ValueError(f"The {what} must be a size such as 500 MB or 4 GiB (0 = no limit)")
    return round(value * SIZE_UNITS[unit])


def _path_text(path: Path | None) -> str:
    return str(path) if path else ""


def choice(
    options: list[tuple[str, Any]] | list[tuple[Text, Any]], value: Any, widget_id: str
) -> Select[Any]:
    return Select(options, value=value, allow_blank=False, id=widget_id)


#: The rows a form takes besides its fields: border, padding, title, error, buttons.
FORM_CHROME = 9


class SettingsForm(ModalScreen[Any]):
    """A grid of labelled fields with Apply and Cancel; subclasses say which fields.

    The fields scroll; the title, the error line and the buttons always show, at any
    terminal size. The first field has the focus; a field that is wrong is named in
    the error line and gets the focus.
    """

    BINDINGS = [
        Binding("escape", "dismiss_form", "Cancel"),
        Binding("ctrl+s", "apply", "Apply"),
    ]
    TITLE = ""

    def fields(self) -> list[tuple[str, Widget]]:
        raise NotImplementedError

    def build(self) -> Any:
        """The settings from the fields; raises ValueError with what to fix."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        self._labels: dict[str, str] = {}
        with Vertical(id="form"):
            yield Static(self.TITLE, classes="form-title", markup=False)
            with VerticalScroll(id="form-body"), Grid(classes="form-grid"):
                for label, widget in self.fields():
                    if isinstance(widget, Input):
                        widget.select_on_focus = False
                    if widget.id:
                        self._labels[widget.id] = label
                    yield Label(label)
                    yield widget
            yield Static("", id="form-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Apply", id="apply", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self._fit()
        body = self.query_one("#form-body")
        first = next((w for w in body.query("*") if w.focusable), None)
        if first is not None:
            first.focus()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """The fields get the screen's height less the form's other rows."""
        room = self.size.height - 1 - FORM_CHROME  # the footer
        self.query_one("#form-body").styles.max_height = max(room, 3)

    #: The field read last by build(): the one its error is about.
    _reading = ""

    def value(self, widget_id: str) -> Any:
        self._reading = widget_id
        widget = self.query_one(f"#{widget_id}")
        return widget.value  # type: ignore[attr-defined]

    @on(Button.Pressed, "#apply")
    @on(Input.Submitted)
    def action_apply(self) -> None:
        self._reading = ""
        try:
            result = self.build()
        except ValueError as exc:
            self.show_error(str(exc), self._reading)
            return
        self.dismiss(result)

    def show_error(self, message: str, widget_id: str = "") -> None:
        """Say what is wrong, naming the field, and put the cursor in it."""
        label = self._labels.get(widget_id, "")
        self.query_one("#form-error", Static).update(f"{label}: {message}" if label else message)
        if widget_id:
            widget = self.query_one(f"#{widget_id}")
            widget.focus()
            widget.scroll_visible(animate=False)
            if isinstance(widget, Input):
                widget.cursor_position = len(widget.value)

    @on(Button.Pressed, "#cancel")
    def action_dismiss_form(self) -> None:
        self.dismiss(None)


class ReceiverSettingsScreen(SettingsForm):
    TITLE = "Receiver settings (storescp options); Apply restarts the receiver"

    def __init__(self, settings: ReceiverSettings) -> None:
        super().__init__()
        self.settings = settings

    def fields(self) -> list[tuple[str, Widget]]:
        s = self.settings
        return [
            ("Port", Input(str(s.port), id="port")),
            ("AE title (-aet)", Input(s.ae_title, id="ae-title")),
            ("Listen on address (-ba)", Input(s.bind_address, id="bind", placeholder="all")),
            ("Output folder (-od)", Input(str(s.output_directory), id="output")),
            (
                "Transfer syntaxes",
                Select(
                    PREFERRED_CHOICES, value=s.preferred_syntax, allow_blank=False, id="preferred"
                ),
            ),
            ("Store objects (off = --ignore)", Switch(not s.ignore, id="store")),
            ("Answer C-ECHO (off = --no-echo)", Switch(s.echo, id="echo")),
            (
                "Same UID twice",
                Select(DUPLICATE_CHOICES, value=s.duplicates, allow_blank=False, id="duplicates"),
            ),
            ("Folders (--layout)", choice(LAYOUT_CHOICES, s.layout, "layout")),
            (
                "File name extension (-fe)",
                Input(s.filename_extension, id="extension", placeholder="none, or .dcm"),
            ),
            (
                "Max PDU bytes (-pdu, 0 = unlimited)",
                Input(str(s.max_pdu), id="max-pdu"),
            ),
            ("ACSE timeout s (-ta)", Input(str(s.acse_timeout), id="acse")),
            ("DIMSE timeout s (-td)", Input(str(s.dimse_timeout), id="dimse")),
            ("Network timeout s (-tn)", Input(str(s.network_timeout), id="network")),
            (
                "Associations at once",
                Input(str(s.max_associations), id="max-assoc"),
            ),
            (
                "Largest object (MB, GB, GiB; 0 = no limit)",
                Input(size_text(s.max_object_size), id="max-object"),
            ),
            (
                "Calling AE titles allowed (blank = any)",
                Input(
                    ", ".join(s.allowed_calling_ae_titles),
                    id="allow-calling",
                    placeholder="MODALITY1, PACS",
                ),
            ),
            (
                "Addresses allowed (blank = any)",
                Input(
                    ", ".join(s.allowed_addresses),
                    id="allow-address",
                    placeholder="10.0.0.0/8, 192.168.1.20",
                ),
            ),
            ("Refuse other called AE titles", Switch(s.check_called_ae_title, id="check-called")),
            (
                "Accept unknown SOP classes (-pm)",
                Switch(s.promiscuous, id="promiscuous"),
            ),
            (
                "Receive on dicomtui's fast path",
                Switch(s.fast_path, id="fast-path"),
            ),
            (
                "Silent connections closed after, s",
                Input(str(s.handshake_timeout), id="handshake"),
            ),
            (
                "TLS certificate (PEM, blank = no TLS)",
                Input(_path_text(s.tls_certificate), id="tls-cert"),
            ),
            ("TLS private key (PEM)", Input(_path_text(s.tls_key), id="tls-key")),
            (
                "Require client certificates from CA",
                Input(_path_text(s.tls_ca), id="tls-ca", placeholder="blank = no"),
            ),
        ]

    def build(self) -> ReceiverSettings:
        output = str(self.value("output")).strip()
        if not output:
            raise ValueError("Name an output folder")
        settings = dataclasses.replace(
            self.settings,
            port=parse_port(self.value("port"), allow_zero=True),
            ae_title=parse_ae_title(self.value("ae-title"), "AE title"),
            bind_address=str(self.value("bind")).strip(),
            output_directory=Path(output).expanduser(),
            preferred_syntax=self.value("preferred"),
            ignore=not self.value("store"),
            echo=bool(self.value("echo")),
            duplicates=self.value("duplicates"),
            layout=self.value("layout"),
            filename_extension=check_extension(str(self.value("extension")).strip()),
            max_pdu=parse_count(self.value("max-pdu"), "maximum PDU size", 0, MAX_PDU_LIMIT),
            acse_timeout=parse_seconds(self.value("acse"), "ACSE timeout"),
            dimse_timeout=parse_seconds(self.value("dimse"), "DIMSE timeout"),
            network_timeout=parse_seconds(self.value("network"), "network timeout"),
            max_associations=parse_count(self.value("max-assoc"), "number of associations", 1),
            max_object_size=parse_size(self.value("max-object"), "largest object"),
            allowed_calling_ae_titles=tuple(
                check_ae_title(title, "allowed calling AE title")
                for title in parse_list(self.value("allow-calling"))
            ),
            allowed_addresses=parse_addresses(self.value("allow-address")),
            check_called_ae_title=bool(self.value("check-called")),
            promiscuous=bool(self.value("promiscuous")),
            fast_path=bool(self.value("fast-path")),
            handshake_timeout=parse_seconds(self.value("handshake"), "silence limit"),
            tls_certificate=parse_optional_file(self.value("tls-cert"), "TLS certificate"),
            tls_key=parse_optional_file(self.value("tls-key"), "TLS key"),
            tls_ca=parse_optional_file(self.value("tls-ca"), "CA"),
        )
        if settings.tls_key is not None and settings.tls_certificate is None:
            raise ValueError("A TLS private key needs its certificate")
        server_tls_context(settings)  # the words the receiver would fail with
        return settings


class SenderOptionsScreen(SettingsForm):
    TITLE = "Sender options (storescu options)"

    def __init__(self, settings: SenderSettings) -> None:
        super().__init__()
        self.settings = settings

    def fields(self) -> list[tuple[str, Widget]]:
        s = self.settings
        return [
            ("Calling AE title (-aet)", Input(s.calling_ae_title, id="calling")),
            ("Only the contexts files need (-cx)", Switch(s.required_contexts, id="cx")),
            (
                "Transfer syntaxes",
                Select(REQUEST_CHOICES, value=s.request_syntax, allow_blank=False, id="syntax"),
            ),
            ("Decompress if the peer refuses", Switch(s.transcode, id="transcode")),
            ("Stop at the first failure", Switch(s.stop_on_failure, id="stop")),
            (
                f"Associations at once (1-{MAX_SEND_ASSOCIATIONS})",
                Input(str(s.associations), id="send-associations"),
            ),
            ("Send on dicomtui's fast path", Switch(s.fast_path, id="send-fast-path")),
            (
                "Max PDU bytes (-pdu, 0 = unlimited)",
                Input(str(s.max_pdu), id="max-pdu"),
            ),
            ("ACSE timeout s (-ta)", Input(str(s.acse_timeout), id="acse")),
            ("DIMSE timeout s (-td)", Input(str(s.dimse_timeout), id="dimse")),
            ("Network timeout s (-tn)", Input(str(s.network_timeout), id="network")),
            ("Send from address (-ba)", Input(s.bind_address, id="bind", placeholder="any")),
            ("TLS", Switch(s.tls, id="tls")),
            ("Trust this CA (PEM, blank = system's)", Input(_path_text(s.tls_ca), id="tls-ca")),
            ("Client certificate (PEM)", Input(_path_text(s.tls_certificate), id="tls-cert")),
            ("Client private key (PEM)", Input(_path_text(s.tls_key), id="tls-key")),
        ]

    def build(self) -> SenderSettings:
        settings = dataclasses.replace(
            self.settings,
            calling_ae_title=parse_ae_title(self.value("calling"), "calling AE title"),
            required_contexts=bool(self.value("cx")),
            request_syntax=self.value("syntax"),
            transcode=bool(self.value("transcode")),
            stop_on_failure=bool(self.value("stop")),
            fast_path=bool(self.value("send-fast-path")),
            associations=parse_count(
                self.value("send-associations"), "number of associations", 1, MAX_SEND_ASSOCIATIONS
            ),
            max_pdu=parse_count(self.value("max-pdu"), "maximum PDU size", 0, MAX_PDU_LIMIT),
            acse_timeout=parse_seconds(self.value("acse"), "ACSE timeout"),
            dimse_timeout=parse_seconds(self.value("dimse"), "DIMSE timeout"),
            network_timeout=parse_seconds(self.value("network"), "network timeout"),
            bind_address=str(self.value("bind")).strip(),
            tls=bool(self.value("tls")),
            tls_ca=parse_optional_file(self.value("tls-ca"), "CA"),
            tls_certificate=parse_optional_file(self.value("tls-cert"), "client certificate"),
            tls_key=parse_optional_file(self.value("tls-key"), "client key"),
        )
        client_tls_context(settings)  # the words the sender would fail with
        return settings
