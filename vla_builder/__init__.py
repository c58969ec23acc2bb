"""vla_builder: upcycle labeled video into LeRobot v3.0 episodes for VLA training."""

__version__ = "0.1.0"
