"""``torch.autograd.anomaly_mode``: ``detect_anomaly`` and ``set_detect_anomaly`` (``mg.detect_anomaly`` …;
``minigrad/recording.py``)."""

from __future__ import annotations

from ..recording import detect_anomaly, set_detect_anomaly

__all__ = ["detect_anomaly", "set_detect_anomaly"]
