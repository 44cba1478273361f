"""scan-svc: security analysis of every app of a fleet, static and dynamic, over NATS."""
