"""The health endpoint (`server`) and the JSON document it serves (`document`)."""
