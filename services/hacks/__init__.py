"""The hacks service: hacks against other players and bounty contracts (skeleton)."""
