"""Simulated plant: gas in rooms, sensors with lag and faults, valves with travel time."""
