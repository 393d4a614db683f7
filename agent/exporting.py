"""Export: the SDK's OTLP (or console) exporter, wrapped to report outages once and keep
the figures the health endpoint shows."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)

from agent.settings import Settings

log = logging.getLogger("agent.export")
_SDK_EXPORTER_LOGGERS = ("opentelemetry.exporter", "opentelemetry.sdk.metrics._internal.export")

D, C = AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE
TEMPORALITY = {
    "cumulative": {},
    "delta": {Counter: D, ObservableCounter: D, Histogram: D, UpDownCounter: C,
              ObservableUpDownCounter: C, ObservableGauge: C},
    "lowmemory": {Counter: D, Histogram: D, ObservableCounter: C, UpDownCounter: C,
                  ObservableUpDownCounter: C, ObservableGauge: C},
}


class _LastError(logging.Handler):
    """Keeps the SDK exporters' last complaint as our error text instead of letting them
    print a line (or a traceback) on every failed cycle."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.message = record.getMessage().splitlines()[0][:300]


@dataclass
class ExportStatus:
    exports: int = 0
    failures: int = 0
    points: int = 0
    last_time: float | None = None  # wall clock
    last_ok: bool | None = None
    last_error: str | None = None
    last_success: float | None = None  # monotonic
    last_duration: float = 0.0


def count_points(data: MetricsData) -> int:
    return sum(len(m.data.data_points) for rm in data.resource_metrics
               for sm in rm.scope_metrics for m in sm.metrics)


def _headers(settings: Settings) -> dict[str, str]:
    headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
    if settings.headers_file is not None:
        headers.update(read_headers_file(str(settings.headers_file)))
    return headers


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


def build_exporter(settings: Settings) -> MetricExporter:
    temporality = TEMPORALITY[settings.temporality]
    if settings.export_enabled == "console":
        return ConsoleMetricExporter(preferred_temporality=temporality)
    headers = _headers(settings)
    endpoint = settings.effective_endpoint
    compression = None if settings.compression == "none" else settings.compression
    if settings.protocol == "grpc":
        from grpc import Compression as GrpcCompression
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        insecure = settings.insecure
        if insecure is None:
            insecure = not endpoint.startswith("https://")
        return OTLPMetricExporter(
            endpoint=endpoint, insecure=insecure, headers=headers or None,
            timeout=settings.export_timeout, preferred_temporality=temporality,
            compression={"gzip": GrpcCompression.Gzip, "deflate": GrpcCompression.Deflate,
                         None: GrpcCompression.NoCompression}[compression],
            credentials=_grpc_credentials(settings) if not insecure else None,
        )
    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HTTPExporter,
    )

    # A base URL (no path) gets the signal path, as OTEL_EXPORTER_OTLP_ENDPOINT does.
    if endpoint.rstrip("/").count("/") <= 2:
        endpoint = endpoint.rstrip("/") + "/v1/metrics"
    return HTTPExporter(
        endpoint=endpoint, headers=headers or None, timeout=settings.export_timeout,
        preferred_temporality=temporality,
        compression=HttpCompression(compression) if compression else HttpCompression.NoCompression,
        certificate_file=str(settings.certificate) if settings.certificate else None,
        client_key_file=str(settings.client_key) if settings.client_key else None,
        client_certificate_file=(str(settings.client_certificate)
                                 if settings.client_certificate else None),
    )


def _grpc_credentials(settings: Settings) -> object:
    import grpc

    def read(path: object) -> bytes | None:
        if path is None:
            return None
        with open(str(path), "rb") as f:
            return f.read()

    return grpc.ssl_channel_credentials(
        root_certificates=read(settings.certificate), private_key=read(settings.client_key),
        certificate_chain=read(settings.client_certificate))


class ReportingExporter(MetricExporter):
    """Delegates to the real exporter; says once when the collector goes away and once when
    it comes back, and keeps counts for the health endpoint."""

    def __init__(self, inner: MetricExporter, target: str) -> None:
        super().__init__(preferred_temporality=inner._preferred_temporality,
                         preferred_aggregation=inner._preferred_aggregation)
        self.inner = inner
        self.target = target
        self.status = ExportStatus()
        self._lock = threading.Lock()
        self._capture = _LastError()
        for name in _SDK_EXPORTER_LOGGERS:
            lg = logging.getLogger(name)
            lg.addHandler(self._capture)
            lg.propagate = False

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000,
               **kwargs: object) -> MetricExportResult:
        started = time.monotonic()
        self._capture.message = None
        try:
            result = self.inner.export(metrics_data, timeout_millis=timeout_millis)
            error = self._capture.message
        except Exception as exc:  # an exporter bug must not end the collection loop
            result, error = MetricExportResult.FAILURE, f"{type(exc).__name__}: {exc}"
        self._record(result is MetricExportResult.SUCCESS, count_points(metrics_data), error,
                     time.monotonic() - started)
        return result

    def _record(self, ok: bool, points: int, error: str | None, duration: float) -> None:
        with self._lock:
            st = self.status
            was_down = st.last_ok is False
            st.exports += 1
            st.last_time = time.time()
            st.last_duration = duration
            st.last_ok = ok
            if ok:
                st.points += points
                st.last_success = time.monotonic()
                st.last_error = None
            else:
                st.failures += 1
                st.last_error = error or "export failed"
        if ok and was_down:
            log.info("export to %s recovered", self.target)
        elif not ok and not was_down:
            log.warning("export to %s failed: %s (the agent keeps collecting and will say "
                        "when it recovers)", self.target, st.last_error)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis)
