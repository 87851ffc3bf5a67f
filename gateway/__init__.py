"""The HTTP/JSON gateway between the browser and the gRPC services."""
