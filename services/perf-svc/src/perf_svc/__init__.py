"""perf-svc: the dynamic HTTP work against running apps, each in child processes: load tests
(Locust) and the fleet's spec tests (Tavern; perf_svc.spectests)."""
