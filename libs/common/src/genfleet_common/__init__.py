"""Code shared by every GenFleet service: the bus contract, settings and the fleet registry."""
