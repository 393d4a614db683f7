"""Sending one encoded OTLP request over gRPC or HTTP/protobuf through the SDK's exporters,
with a verdict the queue can act on: delivered, worth retrying, or rejected for good."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics.export import MetricExportResult

from agent.config import Config

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


class GrpcSender:
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

        endpoint = config.endpoint
        insecure = config.insecure
        if insecure is None:
            insecure = not endpoint.startswith("https://")
        credentials = None
        if not insecure:
            def read(path: object) -> bytes | None:
                if path is None:
                    return None
                with open(str(path), "rb") as f:
                    return f.read()
            credentials = ssl_channel_credentials(
                root_certificates=read(config.certificate),
                private_key=read(config.client_key),
                certificate_chain=read(config.client_certificate))
        compression = {"gzip": Compression.Gzip, "deflate": Compression.Deflate,
                       "none": Compression.NoCompression}[config.compression]
        self.exporter = Passthrough(
            endpoint=endpoint, insecure=insecure, credentials=credentials,
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


def build_sender(config: Config, temporality: dict) -> GrpcSender | HttpSender:
    cls = GrpcSender if config.protocol == "grpc" else HttpSender
    return cls(config, headers_for(config), temporality)
