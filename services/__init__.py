"""The HiddenWars gRPC services and the small runtime package they share."""
