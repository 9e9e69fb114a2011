"""int2int: train small transformers on problems of mathematics, in sweeps."""

__version__ = "0.1.0"
