"""Where training is, in one unit: the global step, and the epoch and round it falls in.

An **epoch** is one pass over the data: batch ``index`` of epoch ``epoch`` is ``batches.batch(epoch, index)``,
``batches_per_epoch`` an epoch, each epoch in its own order. A **round** is one ``model.fit`` (a Keras epoch):
``steps_per_round`` steps (default: an epoch), after which ``train_resumably`` validates. Global step ``g`` (0-based)
reads batch ``g % batches_per_epoch`` of epoch ``g // batches_per_epoch`` and is step ``g % steps_per_round`` of round
``g // steps_per_round``; a backup records the step to resume at. With ``workers`` machines in step, each reads its own
shard at every global step, which Keras counts as ``workers`` steps."""

from dataclasses import dataclass

from ..checks import check_int


@dataclass(frozen=True)
class Positions:
    batches_per_epoch: int
    steps_per_round: int | None = None
    workers: int = 1

    def __post_init__(self):
        check_int("batches_per_epoch", self.batches_per_epoch, minimum=1)
        check_int("workers", self.workers, minimum=1)
        object.__setattr__(self, "steps_per_round", check_int(
            "steps_per_round", self.batches_per_epoch if self.steps_per_round is None else self.steps_per_round, 1))

    def batch_of(self, step):
        """``(epoch, index)`` of the batch global step ``step`` reads."""
        return divmod(check_int("step", step, minimum=0), self.batches_per_epoch)

    def round_of(self, step):
        """``(round, step within it)`` of global step ``step``."""
        return divmod(check_int("step", step, minimum=0), self.steps_per_round)

    def keras_steps(self, steps):
        """Keras steps for ``steps`` global steps: one per worker each."""
        return steps * self.workers
