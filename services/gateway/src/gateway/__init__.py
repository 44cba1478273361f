"""GenFleet gateway: the HTTP and WebSocket API, auth, and the web dashboard's files."""
