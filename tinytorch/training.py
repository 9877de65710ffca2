# Generated from source/07_training/07_training.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Training abstractions: a ``Trainer`` that runs the training loop, and its callbacks."""
import os

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.nn.utils import clip_grad_norm_
from tinytorch.random import get_rng_state, set_rng_state
from tinytorch.serialization import load, save


def accuracy(outputs, targets):
    """The fraction of rows of ``outputs`` whose largest entry is at the index ``targets`` gives."""
    return float(np.mean(outputs.data.argmax(axis=-1) == np.asarray(getattr(targets, "data", targets))))


class Callback:
    """Hooks the Trainer calls; override the ones you need. ``state_dict`` goes into checkpoints."""

    def on_fit_start(self, trainer):
        pass

    def on_epoch_end(self, trainer, logs):
        pass

    def on_fit_end(self, trainer):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state_dict):
        pass


def _improved(value, best, mode, min_delta=0.0):
    """Whether ``value`` beats ``best`` by more than ``min_delta`` (``mode``: "min" or "max")."""
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _monitored(logs, monitor, who):
    if monitor not in logs:
        raise KeyError(f"{who}: monitors {monitor!r}, but the epoch's logs have {sorted(logs)}; "
                       "give fit() a val_loader for validation metrics")
    return logs[monitor]


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, mode="min"):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.best, self.wait = None, 0

    def on_epoch_end(self, trainer, logs):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if _improved(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            trainer.should_stop = trainer.should_stop or self.wait >= self.patience

    def state_dict(self):
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state_dict):
        self.best, self.wait = state_dict["best"], state_dict["wait"]


class Trainer:
    """The training loop: batches, accumulation, clipping, schedule, evaluation, checkpoints."""

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip=None, callbacks=(),
                 accumulation_steps=1, metrics=None, checkpoint_dir=None, checkpoint_every=None,
                 monitor="val_loss", mode="min", progress=True):
        if not isinstance(accumulation_steps, int) or accumulation_steps < 1:
            raise ValueError(f"Trainer: accumulation_steps must be a positive integer, got {accumulation_steps!r}")
        if checkpoint_every is not None and checkpoint_dir is None:
            raise ValueError("Trainer: checkpoint_every needs a checkpoint_dir to write to")
        if mode not in ("min", "max"):
            raise ValueError(f"Trainer: mode must be 'min' or 'max', got {mode!r}")
        self.model, self.optimizer, self.loss_fn, self.scheduler = model, optimizer, loss_fn, scheduler
        self.grad_clip, self.callbacks, self.accumulation_steps = grad_clip, list(callbacks), accumulation_steps
        self.metrics = dict(metrics or {})
        self.checkpoint_dir, self.checkpoint_every = checkpoint_dir, checkpoint_every
        self.monitor, self.mode, self.progress = monitor, mode, progress
        self.epoch, self.step, self.history, self.best = 0, 0, {}, None
        self.should_stop = False
        self._data_rng_state = None  # restored into the next fit's loader
        self._bar = None

    # ----- the loop ------------------------------------------------------------------------------
    def _train_epoch(self, loader):
        """One pass over ``loader``; returns the mean training loss over its samples."""
        self.model.train()
        self.optimizer.zero_grad()
        k, total, count = self.accumulation_steps, 0.0, 0
        for i, (inputs, targets) in enumerate(loader, start=1):
            loss = self.loss_fn(self.model(inputs), targets)
            (loss * (1.0 / k)).backward()
            if i % k == 0 or i == len(loader):
                self._optimizer_step()
            total += loss.item() * len(inputs)
            count += len(inputs)
            if self._bar is not None:
                self._bar.update(1)
                self._bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        return total / count

    def _optimizer_step(self):
        """Clip, update, clear the gradients, advance the schedule."""
        if self.grad_clip is not None:
            clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad()
        if self.scheduler is not None:
            self.scheduler.step()
        self.step += 1

    def evaluate(self, loader):
        """Mean loss (and ``metrics``) over ``loader``'s samples, in evaluation mode, without gradients."""
        was_training = self.model.training
        self.model.eval()
        sums, count = dict.fromkeys(["loss", *self.metrics], 0.0), 0
        with no_grad():
            for inputs, targets in loader:
                outputs = self.model(inputs)
                n = len(inputs)
                sums["loss"] += self.loss_fn(outputs, targets).item() * n
                for name, metric in self.metrics.items():
                    sums[name] += metric(outputs, targets) * n
                count += n
        self.model.train(was_training)
        return {name: value / count for name, value in sums.items()}

    def fit(self, train_loader, epochs, val_loader=None):
        """Train ``epochs`` more epochs; returns ``self.history`` (a list per logged value)."""
        generator = getattr(train_loader, "generator", None)
        if self._data_rng_state is not None and generator is not None:
            set_rng_state(self._data_rng_state, generator)
        self._data_rng_state, self.should_stop = None, False
        self._bar = self._progress_bar(epochs * len(train_loader))
        for callback in self.callbacks:
            callback.on_fit_start(self)
        try:
            for _ in range(epochs):
                logs = {"train_loss": self._train_epoch(train_loader)}
                if val_loader is not None:
                    logs.update({f"val_{name}": value for name, value in self.evaluate(val_loader).items()})
                logs["lr"] = self.optimizer.param_groups[0]["lr"]
                self.epoch += 1
                for name, value in logs.items():
                    self.history.setdefault(name, []).append(value)
                for callback in self.callbacks:
                    callback.on_epoch_end(self, logs)
                self._checkpoint(logs, train_loader)
                if self.should_stop:
                    break
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        for callback in self.callbacks:
            callback.on_fit_end(self)
        return self.history

    def _progress_bar(self, total):
        if self.progress is True:
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm is optional: no bar without it
                return None
            return tqdm(total=total, desc="training", leave=False)
        return self.progress(total=total, desc="training") if callable(self.progress) else None

    # ----- checkpoints ---------------------------------------------------------------------------
    def _checkpoint(self, logs, train_loader):
        if self.checkpoint_dir is None:
            return
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        value = logs.get(self.monitor)
        improved = value is not None and _improved(value, self.best, self.mode)
        if improved:
            self.best = value
            self.save_checkpoint(os.path.join(self.checkpoint_dir, "best.npz"), train_loader)
        if self.checkpoint_every and self.epoch % self.checkpoint_every == 0:
            self.save_checkpoint(os.path.join(self.checkpoint_dir, f"epoch-{self.epoch}.npz"), train_loader)

    def state_dict(self, train_loader=None):
        """Everything a resumed run needs: model, optimizer, scheduler, progress, callbacks, generators."""
        generator = getattr(train_loader, "generator", None)
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "epoch": self.epoch, "step": self.step, "history": self.history, "best": self.best,
            "callbacks": [callback.state_dict() for callback in self.callbacks],
            "rng_state": get_rng_state(),
            "data_rng_state": None if generator is None else get_rng_state(generator),
        }

    def load_state_dict(self, state_dict):
        """Restore ``state_dict()``; the data order is restored at the next ``fit``."""
        self.model.load_state_dict(state_dict["model"])
        self.optimizer.load_state_dict(state_dict["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state_dict["scheduler"])
        self.epoch, self.step, self.best = state_dict["epoch"], state_dict["step"], state_dict["best"]
        self.history = {name: list(values) for name, values in state_dict["history"].items()}
        if len(state_dict["callbacks"]) != len(self.callbacks):
            raise ValueError(f"Trainer.load_state_dict: the checkpoint has {len(state_dict['callbacks'])} "
                             f"callbacks' states, this trainer {len(self.callbacks)} callbacks")
        for callback, saved in zip(self.callbacks, state_dict["callbacks"]):
            callback.load_state_dict(saved)
        set_rng_state(state_dict["rng_state"])
        self._data_rng_state = state_dict["data_rng_state"]

    def save_checkpoint(self, path, train_loader=None):
        """Write ``state_dict()`` to ``path`` with ``tinytorch.save``; written between epochs, as ``fit``
        does, it resumes the run exactly (the data order of an epoch is drawn when the epoch starts)."""
        save(self.state_dict(train_loader), path)

    def load_checkpoint(self, path):
        """Restore a checkpoint written by ``save_checkpoint``."""
        self.load_state_dict(load(path))
