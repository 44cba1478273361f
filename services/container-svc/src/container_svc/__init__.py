"""container-svc: runs and watches every app of a fleet on the Docker engine, over NATS."""
