"""museviz: see and measure how lip-sync systems map video frames onto audio features."""

__version__ = "0.1.0"
