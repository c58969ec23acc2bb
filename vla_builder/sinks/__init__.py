"""Outputs: LeRobot v3.0 datasets."""
