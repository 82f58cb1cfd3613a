"""One router per audience: client cabinet, cold start, managers, items, events, admin, health."""
