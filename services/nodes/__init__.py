"""The nodes service: botnets, HP, the build queue and the dashboard."""
