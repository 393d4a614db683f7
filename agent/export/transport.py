"""Sending one encoded OTLP request, with a verdict the queue can act on: delivered, worth
retrying, too large (to be split), or rejected for good. gRPC goes through agent.grpc_client
(h2, no grpcio) or, with ADK_AGENT_GRPC_CLIENT=grpcio, through grpcio's generated stub;
HTTP/protobuf through requests. Every path makes exactly one attempt per send: the queue owns
retries, so the health document sees every failure as it happens."""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from agent import __version__
from agent.config.headers import checked, read_file
from agent.config.plain import Config

if TYPE_CHECKING:  # ssl (and libcrypto) is loaded only for TLS; protobuf only to read a reply
    import ssl

    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceResponse,
    )

log = logging.getLogger("agent.export")
# Per the OTLP specification; 401/403 are kept too, so a rotated credential can still deliver.
GRPC_RETRYABLE = {"CANCELLED", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED",
                  "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
                  "PERMISSION_DENIED"}
HTTP_REJECTED = {400, 404, 405, 413, 415, 422}
# How servers say "this message is larger than I take" with RESOURCE_EXHAUSTED: grpc C-core and
# grpc-go ("received message larger than max"), tonic ("decoded message length too large"),
# grpc-java and .NET ("exceeds maximum size"); RESOURCE_EXHAUSTED also means a quota or rate
# limit, which splitting would only make worse.
TOO_LARGE = re.compile(r"larger than|too large|exceeds", re.IGNORECASE)
# A proxy's limit (nginx client_max_body_size): HTTP 413, which gRPC maps to UNKNOWN; grpcio
# says "Received http2 header with status: 413", agent.grpc_client "HTTP 413 instead of ..."
HTTP_413 = re.compile(r"(HTTP|status:) 413\b")
MAX_HTTP_REPLY = 64 * 1024  # an OTLP/HTTP reply is a partial success at most


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retryable: bool = True
    error: str | None = None
    too_large: bool = False  # the collector takes smaller requests: split this one
    partial: str | None = None  # delivered, but the collector rejected points of it: which


def grpc_outcome(status: str, message: str) -> Outcome:
    """A failed gRPC call as a verdict, by its status code."""
    error = f"{status}: {message}" if message else status
    too_large = (status == "RESOURCE_EXHAUSTED" and TOO_LARGE.search(message)) or (
        status == "UNKNOWN" and HTTP_413.search(message))
    return Outcome(False, status in GRPC_RETRYABLE, error[:300], too_large=bool(too_large))


def headers_for(config: Config) -> dict[str, str]:
    """The export headers, lower-case, checked (ValueError names a bad one, never its value);
    the file's lines win over the setting's."""
    grpc = config.protocol == "grpc"
    headers = checked(config.headers, grpc)
    if config.headers_file is not None:
        headers.update(checked(read_file(str(config.headers_file)), grpc,
                               f"ADK_AGENT_HEADERS_FILE {config.headers_file}: header"))
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

    def __init__(self, config: Config, headers: dict[str, str]) -> None:
        from agent.export.grpc_client import Channel

        tls = None if _grpc_insecure(config) else _tls_context(config)
        self.channel = Channel(config.endpoint, tls, config.compression,
                               user_agent=f"adk-agent/{__version__}")
        self.metadata = tuple(headers.items())
        self.timeout = config.export_timeout

    def send(self, payload: bytes, points: int) -> Outcome:
        reply = self.channel.call(EXPORT_PATH, payload, self.metadata, self.timeout)
        if not reply.ok:
            return grpc_outcome(reply.status, reply.message)
        return Outcome(True, partial=_partial_success(reply.body))

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


def _partial_success(body: bytes | ExportMetricsServiceResponse) -> str | None:
    """The collector took the request but not all of it: what it says, for the exporter to
    log (the rest is not retried, as the OTLP specification asks)."""
    if not body:  # the usual reply: an empty message
        return None
    try:
        if isinstance(body, bytes):
            from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
                ExportMetricsServiceResponse,
            )

            body = ExportMetricsServiceResponse.FromString(body)
        partial = body.partial_success
    except Exception:  # a reply we cannot read is still a success
        return None
    if partial.rejected_data_points or partial.error_message:
        return (f"{partial.rejected_data_points} points of a batch: "
                f"{partial.error_message or 'no reason given'}")[:300]
    return None


class GrpcioSender:
    """OTLP/gRPC on grpcio (ADK_AGENT_GRPC_CLIENT=grpcio): the generated stub called directly,
    one attempt per send. The SDK's exporter would retry inside the call (hiding an outage
    from the health document), log its own lines and reduce the status to a result; here the
    status maps exactly, as on the h2 path."""

    def __init__(self, config: Config, headers: dict[str, str]) -> None:
        import grpc
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import (
            MetricsServiceStub,
        )

        from agent.export.splitting import parse

        url = urlsplit(config.endpoint)
        target = url.netloc.rpartition("@")[2]
        options = [("grpc.primary_user_agent", f"adk-agent/{__version__}")]
        compression = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate,
                       "none": grpc.Compression.NoCompression}[config.compression]
        if _grpc_insecure(config):
            self.channel = grpc.insecure_channel(target, options, compression)
        else:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(config.certificate),
                private_key=_read(config.client_key),
                certificate_chain=_read(config.client_certificate))
            self.channel = grpc.secure_channel(target, credentials, options, compression)
        self.stub = MetricsServiceStub(self.channel)
        self.metadata = tuple((k.lower(), v) for k, v in headers.items())
        self.timeout = config.export_timeout
        self._error = grpc.RpcError
        self._parse = parse  # grpcio's stub takes the message, not its bytes

    def send(self, payload: bytes, points: int) -> Outcome:
        request = self._parse(payload)
        try:
            response = self.stub.Export(request, metadata=self.metadata, timeout=self.timeout)
        except self._error as exc:
            code, details = exc.code(), exc.details()  # type: ignore[attr-defined]
            return grpc_outcome(code.name if code else "UNKNOWN",
                                (details or "").splitlines()[0] if details else "")
        return Outcome(True, partial=_partial_success(response))

    def shutdown(self) -> None:
        self.channel.close()  # also ends a call in progress


class HttpSender:
    """OTLP/HTTP (protobuf) on requests: one POST per send."""

    def __init__(self, config: Config, headers: dict[str, str]) -> None:
        url = urlsplit(config.endpoint)
        # A base URL (no path) gets the signal path, as OTEL_EXPORTER_OTLP_ENDPOINT does.
        if not url.path.strip("/"):
            url = url._replace(path="/v1/metrics")
        self.url = urlunsplit(url)
        self.headers = {**headers, "content-type": "application/x-protobuf",
                        "user-agent": f"adk-agent/{__version__}"}
        self.compression = config.compression
        if self.compression != "none":
            self.headers["content-encoding"] = self.compression
        self.verify: str | bool = str(config.certificate) if config.certificate else True
        self.cert = ((str(config.client_certificate), str(config.client_key))
                     if config.client_certificate else None)
        self.timeout = config.export_timeout
        self.session = _session()

    def send(self, payload: bytes, points: int) -> Outcome:
        import requests

        body = payload
        if self.compression == "gzip":
            body = gzip.compress(body)
        elif self.compression == "deflate":
            body = zlib.compress(body)
        try:
            with self.session.post(self.url, data=body, headers=self.headers,  # type: ignore[attr-defined]
                                   timeout=self.timeout, verify=self.verify, cert=self.cert,
                                   stream=True) as reply:
                code = reply.status_code
                if 200 <= code < 300:  # the body is read only here, and only so much of it
                    return Outcome(True, partial=_partial_success(
                        reply.raw.read(MAX_HTTP_REPLY, decode_content=True)))
                error = f"HTTP {code} {reply.reason or ''}".strip()
        except requests.RequestException as exc:
            return Outcome(False, True, _request_error(exc, self.timeout))
        return Outcome(False, code not in HTTP_REJECTED, error, too_large=code == 413)

    def shutdown(self) -> None:
        self.session.close()  # type: ignore[attr-defined]


def _request_error(exc: Exception, timeout: float) -> str:
    """What went wrong, without the URL requests puts in its messages."""
    import requests

    if isinstance(exc, requests.Timeout):
        return f"no reply within {timeout:g}s"
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        ssl = re.search(r"\[SSL[^\]]*\][^)'\"]*", text)
        return "TLS failed" + (f": {ssl.group(0).strip()}" if ssl else "")
    errno = re.search(r"\[Errno -?\d+\] [^)'\"]+", text)
    return errno.group(0) if errno else type(exc).__name__


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


def build_sender(config: Config, headers: dict[str, str] | None = None) -> Sender:
    """The sender for `config`, with `headers` (by default headers_for(config))."""
    cls: type[Sender] = HttpSender
    if config.protocol == "grpc":
        cls = GrpcioSender if config.grpc_client == "grpcio" else GrpcSender
    return cls(config, headers_for(config) if headers is None else headers)
