"""Sending one encoded OTLP request, with a verdict the queue can act on: delivered, worth
retrying, or rejected for good. gRPC goes through agent.grpc_client (h2, no grpcio) or, with
ADK_AGENT_GRPC_CLIENT=grpcio, through the SDK's grpcio exporter; HTTP/protobuf through the
SDK's HTTP exporter."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics.export import MetricExportResult

from agent import __version__
from agent.config.plain import Config

if TYPE_CHECKING:  # ssl (and libcrypto) is loaded only for TLS
    import ssl

log = logging.getLogger("agent.export")
_SDK_LOGGERS = ("opentelemetry.exporter", "opentelemetry.sdk.metrics._internal.export")
# Per the OTLP specification; 401/403 are kept too, so a rotated credential can still deliver.
GRPC_RETRYABLE = {"CANCELLED", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED",
                  "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
                  "PERMISSION_DENIED"}
HTTP_REJECTED = {400, 404, 405, 413, 415, 422}


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retryable: bool = True
    error: str | None = None


class _LastError(logging.Handler):
    """Keeps the SDK exporters' last complaint as our error text instead of letting them print
    a line (or a traceback) on every failed attempt."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.message = record.getMessage().splitlines()[0][:300]


_capture = _LastError()
for _name in _SDK_LOGGERS:
    _lg = logging.getLogger(_name)
    _lg.addHandler(_capture)
    _lg.propagate = False


def read_headers_file(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, sep, value = line.partition("=")
                if sep and key.strip():
                    out[key.strip()] = value.strip()
    return out


def headers_for(config: Config) -> dict[str, str]:
    headers = dict(config.headers)
    if config.headers_file is not None:
        headers.update(read_headers_file(str(config.headers_file)))
    return headers


EXPORT_PATH = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


def _read(path: object) -> bytes | None:
    if path is None:
        return None
    with open(str(path), "rb") as f:
        return f.read()


def _grpc_insecure(config: Config) -> bool:
    return config.insecure if config.insecure is not None else (
        not config.endpoint.startswith("https://"))


class GrpcSender:
    """OTLP/gRPC on agent.grpc_client: one kept-open HTTP/2 connection, no grpcio."""

    def __init__(self, config: Config, headers: dict[str, str], temporality: dict) -> None:
        from agent.export.grpc_client import Channel

        tls = None if _grpc_insecure(config) else _tls_context(config)
        self.channel = Channel(config.endpoint, tls, config.compression,
                               user_agent=f"adk-agent/{__version__}")
        self.metadata = tuple(headers.items())
        self.timeout = config.export_timeout

    def send(self, request: ExportMetricsServiceRequest, points: int) -> Outcome:
        reply = self.channel.call(EXPORT_PATH, request.SerializeToString(), self.metadata,
                                  self.timeout)
        if not reply.ok:
            error = f"{reply.status}: {reply.message}" if reply.message else reply.status
            return Outcome(False, reply.status in GRPC_RETRYABLE, error)
        _partial_success(reply.body)
        return Outcome(True)

    def shutdown(self) -> None:
        self.channel.close()


def _tls_context(config: Config) -> ssl.SSLContext:
    """Verifying TLS with ALPN h2; the configured CA replaces the system's, as in grpcio."""
    import ssl

    try:
        tls = ssl.create_default_context(
            cafile=str(config.certificate) if config.certificate else None)
    except ssl.SSLError as exc:
        raise ValueError(f"ADK_AGENT_CERTIFICATE (OTEL_EXPORTER_OTLP_CERTIFICATE) "
                         f"{config.certificate}: not a PEM CA bundle ({_why(exc)})") from None
    if config.client_certificate:
        try:
            tls.load_cert_chain(str(config.client_certificate),
                                str(config.client_key) if config.client_key else None)
        except ssl.SSLError as exc:
            raise ValueError(
                f"ADK_AGENT_CLIENT_CERTIFICATE / ADK_AGENT_CLIENT_KEY "
                f"({config.client_certificate}, {config.client_key}): not a PEM certificate "
                f"and its key ({_why(exc)})") from None
    tls.set_alpn_protocols(["h2"])
    return tls


def _why(exc: ssl.SSLError) -> str:
    return str(exc.reason or exc.strerror or exc.args[-1])


def _partial_success(body: bytes) -> None:
    """The collector took the request but not all of it: say so (the rest is not retried,
    as the OTLP specification asks)."""
    if not body:
        return
    try:
        partial = ExportMetricsServiceResponse.FromString(body).partial_success
    except Exception:  # a reply we cannot read is still a success
        return
    if partial.rejected_data_points or partial.error_message:
        log.warning("the collector rejected %d points of a batch: %s",
                    partial.rejected_data_points, partial.error_message or "no reason given")


class GrpcioSender:
    """OTLP/gRPC through the SDK's exporter on grpcio (ADK_AGENT_GRPC_CLIENT=grpcio)."""

    def __init__(self, config: Config, headers: dict[str, str], temporality: dict) -> None:
        from grpc import Compression, ssl_channel_credentials
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        class Passthrough(OTLPMetricExporter):
            """Sends requests we encoded (and may have queued) as they are."""

            points = 0  # of the request being sent: counted once, when it was encoded

            def _translate_data(self, data: ExportMetricsServiceRequest) -> object:  # type: ignore[override]
                return data

            def _count_data(self, data: ExportMetricsServiceRequest) -> int:  # type: ignore[override]
                return self.points

        insecure = _grpc_insecure(config)
        credentials = None
        if not insecure:
            credentials = ssl_channel_credentials(
                root_certificates=_read(config.certificate),
                private_key=_read(config.client_key),
                certificate_chain=_read(config.client_certificate))
        compression = {"gzip": Compression.Gzip, "deflate": Compression.Deflate,
                       "none": Compression.NoCompression}[config.compression]
        self.exporter = Passthrough(
            endpoint=config.endpoint, insecure=insecure, credentials=credentials,
            headers=tuple(headers.items()), timeout=config.export_timeout,
            compression=compression, preferred_temporality=temporality)

    def send(self, request: ExportMetricsServiceRequest, points: int) -> Outcome:
        _capture.message = None
        self.exporter.points = points
        result = self.exporter._export(request)
        if result is MetricExportResult.SUCCESS:
            return Outcome(True)
        error = _capture.message or "export failed"
        m = re.search(r"StatusCode\.(\w+)", error)
        return Outcome(False, m is None or m.group(1) in GRPC_RETRYABLE, error)

    def shutdown(self) -> None:
        self.exporter.shutdown()


class HttpSender:
    def __init__(self, config: Config, headers: dict[str, str], temporality: dict) -> None:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        endpoint = config.endpoint
        # A base URL (no path) gets the signal path, as OTEL_EXPORTER_OTLP_ENDPOINT does.
        if endpoint.rstrip("/").count("/") <= 2:
            endpoint = endpoint.rstrip("/") + "/v1/metrics"
        self.exporter = OTLPMetricExporter(
            endpoint=endpoint, headers=headers, timeout=config.export_timeout,
            session=_session(),
            compression=Compression(config.compression) if config.compression != "none"
            else Compression.NoCompression,
            preferred_temporality=temporality,
            certificate_file=str(config.certificate) if config.certificate else None,
            client_key_file=str(config.client_key) if config.client_key else None,
            client_certificate_file=(str(config.client_certificate)
                                     if config.client_certificate else None))

    def send(self, request: ExportMetricsServiceRequest, points: int) -> Outcome:
        _capture.message = None
        result = self.exporter._client.export(request.SerializeToString())
        if result.success:
            return Outcome(True)
        code = result.status_code
        error = _capture.message or (f"HTTP {code}" if code else "export failed")
        return Outcome(False, code not in HTTP_REJECTED, error)

    def shutdown(self) -> None:
        self.exporter.shutdown()


def _session() -> object:
    import requests

    class Session(requests.Session):
        """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace the CA a caller set; the
        CA the user configured for the collector must win."""

        def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if isinstance(self.verify, str):
                merged["verify"] = self.verify
            return merged

    return Session()


Sender = GrpcSender | GrpcioSender | HttpSender


def build_sender(config: Config, temporality: dict) -> Sender:
    cls: type[Sender] = HttpSender
    if config.protocol == "grpc":
        cls = GrpcioSender if config.grpc_client == "grpcio" else GrpcSender
    return cls(config, headers_for(config), temporality)
