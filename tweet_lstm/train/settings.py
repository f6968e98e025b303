"""``TrainSettings``: every setting that changes a training run's result, in one place (no TensorFlow); the defaults are
chapter 04's model B, which ``python -m tweet_lstm train`` uses."""

import dataclasses
import hashlib
import json
import math

from ..checks import check_int, check_number


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """A training run's settings: ``minutes`` of training (validation not counted); Adam from ``learning_rate`` down
    half a cosine to ``final_fraction`` of it at ``decay_minutes`` (default ``minutes``); an LSTM of ``units``,
    ``dropout`` on its outputs; ``batch_size`` tweets a step, a share ``emoji_dropout`` not told their emoji; validation
    every ``validate_every`` steps (None: an epoch), stopping after ``patience`` without a better score or
    ``max_rounds``; a backup every ``backup_every`` steps; ``seed``."""

    minutes: float = 20.0
    units: int = 256
    batch_size: int = 32
    learning_rate: float = 4e-3
    final_fraction: float = 0.05
    decay_minutes: float | None = None
    dropout: float = 0.4
    emoji_dropout: float = 0.25
    patience: int = 4
    validate_every: int | None = None
    max_rounds: int = 100
    backup_every: int = 100
    seed: int = 0

    def __post_init__(self):
        check_number("minutes", self.minutes, minimum=0.0, maximum=1e6)
        for name in ("units", "batch_size", "patience", "max_rounds", "backup_every"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_number("learning_rate", self.learning_rate, minimum=0.0)
        check_number("final_fraction", self.final_fraction, minimum=0.0, maximum=1.0)
        check_number("dropout", self.dropout, minimum=0.0, below=1.0)
        check_number("emoji_dropout", self.emoji_dropout, minimum=0.0, maximum=1.0)
        if self.decay_minutes is not None:
            check_number("decay_minutes", self.decay_minutes, minimum=0.0, below=math.inf)
        if self.validate_every is not None:
            check_int("validate_every", self.validate_every, minimum=1)

    def learning_rate_at(self, minutes):
        """Adam's rate after ``minutes`` of training: the half cosine the class describes, then flat."""
        decay = self.minutes if self.decay_minutes is None else self.decay_minutes
        progress = min(minutes / decay, 1.0) if decay else 1.0
        cosine = (1 + math.cos(math.pi * progress)) / 2
        return self.learning_rate * (self.final_fraction + (1 - self.final_fraction) * cosine)

    def as_dict(self):
        return dataclasses.asdict(self)


def run_name(prefix, settings, *batches):
    """A run folder's name for ``settings`` (a ``TrainSettings``, or a dict of JSON values) on ``batches`` (the training
    batches, then any validated on): ``prefix`` and a short digest of all, so other settings or data get a folder of
    their own."""
    settings = settings.as_dict() if isinstance(settings, TrainSettings) else settings
    described = json.dumps([settings, *(b.fingerprint() for b in batches)], sort_keys=True)
    return f"{prefix}-{hashlib.sha256(described.encode()).hexdigest()[:8]}"
