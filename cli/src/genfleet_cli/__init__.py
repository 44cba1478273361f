"""genfleet: the command line of GenFleet."""
