"""Export: the queued exporter, the outbox, OTLP encoding, the senders and the HTTP/2 gRPC
client."""
