"""perf-svc: load tests of running apps with Locust, run in a child process."""
