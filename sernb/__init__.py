"""sernb: an interactive study package for multimodal speech emotion recognition.

The library is deliberately thin: data layer (``sernb.data``), models (``sernb.models``),
one training loop (``sernb.train``), metrics, experiments, benchmarks and figures.
The book in ``book/`` is the place to start reading.
"""

__version__ = "0.1.0"
