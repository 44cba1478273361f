"""Spec tests: a fleet's Tavern checks per spec, run against a running app in a child process
(files: find and check the files; runner: the child processes and their reports; plugin: the
pytest plugin inside the child; kind and handlers: the job kind on the shared lifecycle)."""
